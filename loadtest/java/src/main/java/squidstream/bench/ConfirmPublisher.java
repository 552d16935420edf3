package squidstream.bench;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.MessageProperties;
import java.util.Arrays;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * RabbitMQ's own ceiling on this machine: persistent messages to a durable queue with publisher
 * confirms and a bounded number in flight, as our gateway publishes, but from a JVM client.
 *
 * <p>Usage: ConfirmPublisher HOST PORT USER PASSWORD QUEUE MESSAGES SIZE IN_FLIGHT. Prints one
 * line of key=value pairs (records/s and confirm latency percentiles in ms) for the Python side
 * to parse. The queue is declared durable and deleted at the end.
 */
public final class ConfirmPublisher {
  private ConfirmPublisher() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 8) {
      System.err.println("usage: HOST PORT USER PASSWORD QUEUE MESSAGES SIZE IN_FLIGHT");
      System.exit(2);
    }
    ConnectionFactory factory = new ConnectionFactory();
    factory.setHost(args[0]);
    factory.setPort(Integer.parseInt(args[1]));
    factory.setUsername(args[2]);
    factory.setPassword(args[3]);
    String queue = args[4];
    int messages = Integer.parseInt(args[5]);
    byte[] body = new byte[Integer.parseInt(args[6])];
    int inFlight = Integer.parseInt(args[7]);
    try (Connection connection = factory.newConnection("squidstream-bench");
        Channel channel = connection.createChannel()) {
      channel.queueDeclare(queue, true, false, false, null);
      try {
        publish(channel, queue, messages, body, inFlight);
      } finally {
        channel.queueDelete(queue);
      }
    }
  }

  private static void publish(Channel channel, String queue, int messages, byte[] body, int inFlight)
      throws Exception {
    // Send time of every unconfirmed message, by delivery tag; a confirm may cover many tags.
    ConcurrentNavigableMap<Long, Long> pending = new ConcurrentSkipListMap<>();
    long[] latencies = new long[messages];
    int[] confirmed = {0};
    Semaphore window = new Semaphore(inFlight);
    channel.confirmSelect();
    channel.addConfirmListener(
        (tag, multiple) -> settle(pending, tag, multiple, latencies, confirmed, window),
        (tag, multiple) -> {
          throw new IllegalStateException("broker refused message " + tag);
        });
    long started = System.nanoTime();
    for (int n = 0; n < messages; n++) {
      window.acquire();
      pending.put(channel.getNextPublishSeqNo(), System.nanoTime());
      channel.basicPublish("", queue, MessageProperties.PERSISTENT_BASIC, body);
    }
    if (!window.tryAcquire(inFlight, 120, TimeUnit.SECONDS)) {
      throw new IllegalStateException("confirms missing after 120 s");
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    long[] done = Arrays.copyOf(latencies, confirmed[0]);
    Arrays.sort(done);
    System.out.printf(
        "messages=%d seconds=%.3f records_per_s=%.1f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f%n",
        done.length, seconds, done.length / seconds, pct(done, 50), pct(done, 95), pct(done, 99));
  }

  private static synchronized void settle(
      ConcurrentNavigableMap<Long, Long> pending,
      long tag,
      boolean multiple,
      long[] latencies,
      int[] confirmed,
      Semaphore window) {
    long now = System.nanoTime();
    var settled = multiple ? pending.headMap(tag, true) : pending.subMap(tag, true, tag, true);
    int count = 0;
    for (Long sent : settled.values()) {
      if (confirmed[0] < latencies.length) {
        latencies[confirmed[0]++] = now - sent;
      }
      count++;
    }
    settled.clear();
    window.release(count);
  }

  private static double pct(long[] sorted, int q) {
    if (sorted.length == 0) {
      return 0.0;
    }
    int index = Math.min(sorted.length - 1, (int) Math.ceil(sorted.length * q / 100.0) - 1);
    return sorted[Math.max(0, index)] / 1e6;
  }
}
