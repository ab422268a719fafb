import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.util.List;

/**
 * Starts mongo-java-server with its in-memory backend for tools/stack.ts.
 *
 * <p>The oplog is switched on so that change streams work. The server reports
 * MongoDB 4.4 (wire version 9), the oldest version the Node.js driver 7 accepts;
 * the library's own version constants stop at wire version 8.
 *
 * <p>Usage: {@code java MurmurMongo [host] [port]} (defaults 127.0.0.1 27017).
 */
public final class MurmurMongo {
  private MurmurMongo() {}

  /** MongoDB 4.4: wire version 9. */
  private static final MongoVersion MONGO_4_4 =
      new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
          return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
          return 9;
        }
      };

  public static void main(String[] args) throws InterruptedException {
    String host = args.length > 0 ? args[0] : "127.0.0.1";
    int port = args.length > 1 ? Integer.parseInt(args[1]) : 27017;
    MemoryBackend backend = new MemoryBackend();
    backend.version(MONGO_4_4);
    backend.enableOplog();
    MongoServer server = new MongoServer(backend);
    server.bind(host, port);
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
    System.out.println("mongo-java-server listening on " + host + ":" + port);
    Thread.currentThread().join();
  }
}
