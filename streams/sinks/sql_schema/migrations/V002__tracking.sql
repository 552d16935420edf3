-- Tracking records (the next offset applied per partition, written in the same transaction
-- as each batch) and the log position of each event's first copy, which decides the one
-- copy every store counts. Request ids follow squidstream.contract (128 characters).
ALTER TABLE game_results MODIFY COLUMN request_id VARCHAR(128) NOT NULL;

ALTER TABLE game_results ADD COLUMN kafka_partition INT NOT NULL DEFAULT -1;

ALTER TABLE game_results ADD COLUMN kafka_offset BIGINT NOT NULL DEFAULT -1;

CREATE TABLE IF NOT EXISTS projection_offsets (
    topic VARCHAR(249) NOT NULL,
    partition_id INT NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, partition_id)
);
