"""Each server of the local stack stores and returns data over its real protocol."""

from __future__ import annotations

import aio_pika
import aiomysql
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pymongo import AsyncMongoClient

from squidstream.settings import Settings
from tests.helpers import unique_name

pytestmark = [pytest.mark.stack, pytest.mark.asyncio]


async def test_kafka_returns_a_record_produced_to_a_fresh_topic(stack: Settings) -> None:
    topic = unique_name("stack_kafka")
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"payload", key=b"event-1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=stack.kafka_bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            record = await consumer.getone()
        finally:
            await consumer.stop()
        assert (record.key, record.value) == (b"event-1", b"payload")
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def test_kafka_broker_does_not_create_topics_on_first_use(stack: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        answers = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
    finally:
        await admin.close()
    entries = answers[0].resources[0][4]
    config = {entry[0]: entry[1] for entry in entries}
    assert config["auto.create.topics.enable"] == "false"


async def test_rabbitmq_returns_a_published_persistent_message(stack: Settings) -> None:
    queue_name = unique_name("stack_rabbit")
    connection = await aio_pika.connect(stack.rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(queue_name, durable=True)
        try:
            message = aio_pika.Message(
                b"payload", message_id="event-1", delivery_mode=aio_pika.DeliveryMode.PERSISTENT
            )
            await channel.default_exchange.publish(message, routing_key=queue_name)
            received = await queue.get(timeout=5)
            await received.ack()
            assert (received.body, received.message_id) == (b"payload", "event-1")
        finally:
            await queue.delete(if_unused=False, if_empty=False)


async def test_redis_returns_what_was_written(stack: Settings) -> None:
    key = f"{unique_name('stack_redis')}:wins"
    client = aioredis.Redis(host=stack.redis_host, port=stack.redis_port, db=stack.redis_db)
    try:
        await client.zincrby(key, 3, "7")
        assert await client.zscore(key, "7") == 3.0
    finally:
        await client.delete(key)
        await client.aclose()


async def _sql(stack: Settings) -> aiomysql.Connection:
    return await aiomysql.connect(
        host=stack.sql_host,
        port=stack.sql_port,
        user=stack.sql_user,
        password=stack.sql_password.get_secret_value(),
        autocommit=True,
    )


async def test_the_sql_server_returns_rows_inserted_over_tcp_as_root(stack: Settings) -> None:
    database = unique_name("stack_sql")
    conn = await _sql(stack)
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{database}`")
            await cur.execute(f"CREATE TABLE `{database}`.t (id BIGINT PRIMARY KEY, v TEXT)")
            await cur.execute(f"INSERT INTO `{database}`.t VALUES (1, 'one'), (2, 'two')")
            await cur.execute(f"SELECT id, v FROM `{database}`.t ORDER BY id")
            rows = await cur.fetchall()
            await cur.execute(f"DROP DATABASE `{database}`")
        assert rows == ((1, "one"), (2, "two"))
    finally:
        conn.close()


async def test_the_sql_server_has_the_configured_database_after_up(stack: Settings) -> None:
    conn = await _sql(stack)
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                (stack.sql_database,),
            )
            assert await cur.fetchone() == (stack.sql_database,)
    finally:
        conn.close()


async def test_ferretdb_returns_a_stored_document(stack: Settings) -> None:
    database = unique_name("stack_mongo")
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.mongo_url)
    try:
        collection = client[database]["audit"]
        await collection.insert_one({"_id": "event-1", "winner": 7})
        found = await collection.find_one({"_id": "event-1"})
        assert found == {"_id": "event-1", "winner": 7}
    finally:
        await client.drop_database(database)
        await client.close()


async def test_ferretdb_finds_a_document_by_id_from_its_index(stack: Settings) -> None:
    # stack/ferretdb/patch.json: unpatched, FerretDB 1.24 on SQLite scans for every `_id`.
    if stack.mongo_backend != "sqlite":
        pytest.skip("the patched lookup is FerretDB's SQLite backend")
    database = unique_name("stack_mongo")
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.mongo_url)
    try:
        collection = client[database]["audit"]
        await collection.insert_many([{"_id": f"event-{n}"} for n in range(50)])
        explained = await collection.find({"_id": "event-7"}).explain()
        plan = explained["queryPlanner"]
        assert isinstance(plan, dict)
        assert "USING INDEX" in " ".join(plan["Plan"]), explained
        assert await collection.find_one({"_id": "event-7"}) == {"_id": "event-7"}
    finally:
        await client.drop_database(database)
        await client.close()
