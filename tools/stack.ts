/**
 * The local service stack: real servers on loopback, no Docker.
 *
 * ```sh
 * deno task stack:up [service...]     # install if needed, start, health-check
 * deno task stack:status              # what is running where
 * deno task stack:down [service...]   # stop what stack:up started
 * deno run -A tools/stack.ts install  # only download into the cache
 * ```
 *
 * Services: `kafka` (Apache Kafka 4.x, KRaft, 9092), `dynamodb` (DynamoDB
 * Local, 8000), `valkey` (redis-server, 6379), `mongo` (mongo-java-server,
 * 27017) and `moto` (S3 + Kinesis, 5000); opt-in, only when named: `spark`
 * (a Spark Connect 4.0.1 server, local[2], 15002). Downloads are cached under
 * `~/.cache/murmur` (or `$MURMUR_CACHE_DIR`); logs, pid files, data and
 * `endpoints.json` live in `.stack/` at the repository root.
 *
 * A service already answering on its port is reused, a port held by something
 * else makes the service move to a free port, and a service that does not come
 * up is named with the tail of its log. See docs/stack.md.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  freePort,
  portOpen,
  probeDynamo,
  probeKafka,
  probeMongo,
  probeMoto,
  type ProbeResult,
  probeValkey,
} from "./stack/probe.ts";

/** The services the stack runs. `moto` serves both S3 and Kinesis; `spark` is opt-in. */
export type StackService =
  | "kafka"
  | "dynamodb"
  | "valkey"
  | "mongo"
  | "moto"
  | "spark";

/** The endpoints written to `.stack/endpoints.json`, one per client-facing name. */
export type EndpointName =
  | "kafka"
  | "dynamodb"
  | "valkey"
  | "mongo"
  | "s3"
  | "kinesis"
  | "spark";

/** One entry of `.stack/endpoints.json`. */
export interface EndpointRecord {
  /** Host to connect to (always loopback for services we start). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** Ready-to-use address: `host:port` for Kafka, a URL for the others. */
  readonly url: string;
}

/** What `up` did for one service. */
export interface UpResult {
  /** The service. */
  readonly service: StackService;
  /**
   * `started`: started by this call; `running`: started earlier by the stack
   * and healthy; `external`: something healthy we did not start answers on the
   * port and is reused; `failed`: did not come up.
   */
  readonly state: "started" | "running" | "external" | "failed";
  /** Port the service listens on. */
  readonly port: number;
  /** Process id when the stack manages the process. */
  readonly pid?: number;
  /** Time spent on this service (install, start, health check), in ms. */
  readonly ms: number;
  /** Health detail, or the reason for the failure. */
  readonly detail: string;
}

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const TOOLS = join(ROOT, "tools", "stack");
/** The folder with logs, pid files, data and endpoints.json. */
export const STACK_DIR: string = Deno.env.get("MURMUR_STACK_DIR") ??
  join(ROOT, ".stack");
const LOG_DIR = join(STACK_DIR, "logs");
const PID_DIR = join(STACK_DIR, "pids");
const ENDPOINTS = join(STACK_DIR, "endpoints.json");
const HOME = Deno.env.get("HOME") ?? "/tmp";
const CACHE = Deno.env.get("MURMUR_CACHE_DIR") ??
  join(Deno.env.get("XDG_CACHE_HOME") ?? join(HOME, ".cache"), "murmur");
const HOST = "127.0.0.1";

const KAFKA_VERSION = "4.3.1";
const DYNAMODB_VERSION = "2.6.1";
const MONGO_SERVER_VERSION = "1.47.0";
const SPARK_VERSION = "4.0.1";

/** Every service, in the order status tables list them. */
export const SERVICES: readonly StackService[] = [
  "kafka",
  "dynamodb",
  "valkey",
  "mongo",
  "moto",
];

/**
 * Services started only when named (`stack:up spark`) or by a caller that
 * needs them (CI for the Spark tests): heavy, and unused by most tests.
 */
export const OPT_IN_SERVICES: readonly StackService[] = ["spark"];

const ALIASES: Record<string, StackService> = {
  kafka: "kafka",
  dynamodb: "dynamodb",
  dynamo: "dynamodb",
  valkey: "valkey",
  redis: "valkey",
  mongo: "mongo",
  mongodb: "mongo",
  moto: "moto",
  s3: "moto",
  kinesis: "moto",
  spark: "spark",
};

interface PidRecord {
  pid: number;
  port: number;
  startedAt: string;
}

interface Launch {
  cmd: string;
  args: string[];
  cwd?: string;
}

interface ServiceDef {
  name: StackService;
  defaultPort: number;
  /** A string found in the process command line: guards against killing a reused pid. */
  marker: string;
  timeoutMs: number;
  probe(host: string, port: number): Promise<ProbeResult>;
  install(): Promise<void>;
  prepare(port: number, log: string): Promise<Launch>;
  endpoints(port: number): Partial<Record<EndpointName, EndpointRecord>>;
}

// ---------------------------------------------------------------- helpers

function say(line: string): void {
  console.error(line);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function which(cmd: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const path = join(dir, cmd);
    try {
      const info = await Deno.stat(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Runs a command to completion; throws with its output when it fails. */
async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; what: string },
): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`${options.what}: command "${cmd}" not found`);
    }
    throw error;
  }
  const text = new TextDecoder().decode(output.stdout) +
    new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new Error(
      `${options.what} failed (exit ${output.code}):\n${tail(text, 30)}`,
    );
  }
  return text;
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

async function logTail(path: string, lines = 40): Promise<string> {
  try {
    return tail(await Deno.readTextFile(path), lines);
  } catch {
    return "(no log)";
  }
}

async function sha(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return [...new Uint8Array(digest)].slice(0, 6).map((b) =>
    b.toString(16).padStart(2, "0")
  ).join("");
}

/** Serialises work that must not run concurrently inside this process (Maven, apt). */
function mutex(): <T>(work: () => Promise<T>) => Promise<T> {
  let tailPromise: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const next = tailPromise.then(work, work);
    tailPromise = next.catch(() => undefined);
    return next;
  };
}
const mavenLock = mutex();
const aptLock = mutex();

/**
 * Runs `build` once per cache folder: the `.complete` marker written after it
 * succeeds makes later calls (and later runs) return at once. With a lock, the
 * marker is checked again inside it, so concurrent callers build only once.
 */
async function once(
  dir: string,
  build: () => Promise<void>,
  lock?: <T>(work: () => Promise<T>) => Promise<T>,
): Promise<void> {
  const marker = join(dir, ".complete");
  if (await exists(marker)) return;
  const task = async () => {
    if (await exists(marker)) return;
    await build();
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(marker, new Date().toISOString());
  };
  await (lock ? lock(task) : task());
}

function isRoot(): boolean {
  return typeof Deno.uid === "function" && Deno.uid() === 0;
}

/** Installs a Debian package with apt-get (as root, or through passwordless sudo). */
async function aptInstall(pkg: string): Promise<void> {
  await aptLock(async () => {
    const apt = await which("apt-get");
    if (!apt) {
      throw new Error(
        `"${pkg}" is missing and apt-get is not available: install ${pkg} with your package manager`,
      );
    }
    const prefix: string[] = [];
    if (!isRoot()) {
      if (!(await which("sudo"))) {
        throw new Error(
          `"${pkg}" is missing: run \`sudo apt-get install -y ${pkg}\` and retry`,
        );
      }
      prefix.push("sudo", "-n");
    }
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    const cmd = prefix.length > 0 ? prefix[0]! : apt;
    const base = prefix.length > 0 ? [...prefix.slice(1), apt] : [];
    say(`  installing ${pkg} with apt-get`);
    try {
      await run(cmd, [...base, "install", "-y", "-q", pkg], {
        env,
        what: `apt-get install ${pkg}`,
      });
    } catch {
      await run(cmd, [...base, "update", "-q"], {
        env,
        what: "apt-get update",
      });
      await run(cmd, [...base, "install", "-y", "-q", pkg], {
        env,
        what: `apt-get install ${pkg}`,
      });
    }
  });
}

async function javaBin(): Promise<string> {
  const home = Deno.env.get("JAVA_HOME");
  if (home && await exists(join(home, "bin", "java"))) {
    return join(home, "bin", "java");
  }
  if (!(await which("java"))) await aptInstall("openjdk-17-jdk-headless");
  return "java";
}

async function javacBin(): Promise<string> {
  const home = Deno.env.get("JAVA_HOME");
  if (home && await exists(join(home, "bin", "javac"))) {
    return join(home, "bin", "javac");
  }
  if (!(await which("javac"))) await aptInstall("openjdk-17-jdk-headless");
  return "javac";
}

/**
 * Resolves a pom's runtime dependencies into a cached lib folder with Maven.
 * Returns the folder; a second call finds it complete and returns at once.
 */
async function mavenLib(
  service: string,
  version: string,
  versionProperty: string,
): Promise<string> {
  const pom = join(TOOLS, service, "pom.xml");
  const key = await sha(await Deno.readTextFile(pom));
  const dir = join(CACHE, "stack", `${service}-${version}-${key}`);
  const lib = join(dir, "lib");
  await once(dir, async () => {
    if (!(await which("mvn"))) await aptInstall("maven");
    say(`  ${service}: resolving ${version} from Maven Central (cached after)`);
    const staging = `${lib}.tmp-${Deno.pid}`;
    await Deno.remove(staging, { recursive: true }).catch(() => undefined);
    await run("mvn", [
      "-q",
      "-B",
      "-f",
      pom,
      `-D${versionProperty}=${version}`,
      "dependency:copy-dependencies",
      `-DoutputDirectory=${staging}`,
      "-DincludeScope=runtime",
    ], { what: `Maven (${service})` });
    await Deno.remove(lib, { recursive: true }).catch(() => undefined);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.rename(staging, lib);
  }, mavenLock);
  return lib;
}

// ---------------------------------------------------------------- services

function kafkaDef(): ServiceDef {
  return {
    name: "kafka",
    defaultPort: 9092,
    marker: "kafka.Kafka",
    timeoutMs: 180_000,
    probe: probeKafka,
    async install() {
      await javaBin();
      await mavenLib("kafka", KAFKA_VERSION, "kafka.version");
    },
    async prepare(port, log) {
      const java = await javaBin();
      const lib = await mavenLib("kafka", KAFKA_VERSION, "kafka.version");
      const home = join(STACK_DIR, "kafka");
      const data = join(home, "data");
      // Fresh, empty broker on every start: tests never see old topics.
      await Deno.remove(home, { recursive: true }).catch(() => undefined);
      await Deno.mkdir(data, { recursive: true });
      const controllerPort = port === 9092 && !(await portOpen(HOST, 9093))
        ? 9093
        : freePort();
      const props = join(home, "server.properties");
      await Deno.writeTextFile(
        props,
        [
          "# Written by tools/stack.ts: single-node KRaft broker + controller.",
          "process.roles=broker,controller",
          "node.id=1",
          `controller.quorum.voters=1@${HOST}:${controllerPort}`,
          `listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
          `advertised.listeners=PLAINTEXT://${HOST}:${port}`,
          "controller.listener.names=CONTROLLER",
          "inter.broker.listener.name=PLAINTEXT",
          "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
          `log.dirs=${data}`,
          "auto.create.topics.enable=true",
          "num.partitions=1",
          "default.replication.factor=1",
          "offsets.topic.replication.factor=1",
          "offsets.topic.num.partitions=4",
          "transaction.state.log.replication.factor=1",
          "transaction.state.log.min.isr=1",
          "transaction.state.log.num.partitions=4",
          "share.coordinator.state.topic.replication.factor=1",
          "share.coordinator.state.topic.min.isr=1",
          "group.initial.rebalance.delay.ms=0",
          "num.network.threads=2",
          "num.io.threads=2",
          "background.threads=2",
          "num.recovery.threads.per.data.dir=1",
          "log.retention.hours=24",
          "log.segment.bytes=67108864",
          "",
        ].join("\n"),
      );
      const jvm = [
        "-Xms256m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        `-Dlog4j2.configurationFile=${
          join(TOOLS, "kafka", "log4j2.properties")
        }`,
        "-cp",
        `${lib}/*`,
      ];
      const clusterId = kafkaClusterId();
      const formatted = await run(java, [
        ...jvm,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        clusterId,
        "-c",
        props,
      ], { what: "Kafka storage format" });
      await Deno.writeTextFile(log, tail(formatted, 3) + "\n", {
        append: true,
      });
      return { cmd: java, args: [...jvm, "kafka.Kafka", props], cwd: home };
    },
    endpoints: (port) => ({
      kafka: { host: HOST, port, url: `${HOST}:${port}` },
    }),
  };
}

function dynamoDef(): ServiceDef {
  return {
    name: "dynamodb",
    defaultPort: 8000,
    marker: "DynamoDBLocal",
    timeoutMs: 90_000,
    probe: probeDynamo,
    async install() {
      await javaBin();
      await dynamoNative(
        await mavenLib("dynamodb", DYNAMODB_VERSION, "dynamodb.version"),
      );
    },
    async prepare(port) {
      const java = await javaBin();
      const lib = await mavenLib(
        "dynamodb",
        DYNAMODB_VERSION,
        "dynamodb.version",
      );
      const native = await dynamoNative(lib);
      const home = join(STACK_DIR, "dynamodb");
      await Deno.mkdir(home, { recursive: true });
      return {
        cmd: java,
        args: [
          "-Xms64m",
          "-Xmx512m",
          "-XX:+UseSerialGC",
          "-XX:+ExitOnOutOfMemoryError",
          `-Djava.library.path=${native}`,
          // marker for the pid check: the main class name does not say DynamoDBLocal
          "-Dmurmur.stack=DynamoDBLocal",
          "-cp",
          `${lib}/*`,
          "com.amazonaws.services.dynamodbv2.local.main.ServerRunner",
          "-inMemory",
          "-sharedDb",
          "-port",
          String(port),
        ],
        cwd: home,
      };
    },
    endpoints: (port) => ({
      dynamodb: { host: HOST, port, url: `http://${HOST}:${port}` },
    }),
  };
}

/** Copies sqlite4java's native libraries to the names sqlite4java looks for. */
async function dynamoNative(lib: string): Promise<string> {
  const native = join(dirname(lib), "native");
  await once(native, async () => {
    await Deno.mkdir(native, { recursive: true });
    for await (const entry of Deno.readDir(lib)) {
      const m = entry.name.match(
        /^(lib)?(sqlite4java-[a-z0-9-]+?)-\d+(\.\d+)*\.(so|dylib|dll)$/,
      );
      if (m) {
        await Deno.copyFile(
          join(lib, entry.name),
          join(native, `${m[1] ?? ""}${m[2]}.${m[4]}`),
        );
      }
    }
  });
  return native;
}

async function redisServer(): Promise<string> {
  const found = await which("redis-server") ??
    await which("valkey-server");
  if (found) return found;
  if (await exists("/usr/bin/redis-server")) return "/usr/bin/redis-server";
  await aptInstall("redis-server");
  return await which("redis-server") ?? "/usr/bin/redis-server";
}

function valkeyDef(): ServiceDef {
  return {
    name: "valkey",
    defaultPort: 6379,
    marker: "-server",
    timeoutMs: 60_000,
    probe: probeValkey,
    async install() {
      await redisServer();
    },
    async prepare(port) {
      const bin = await redisServer();
      const home = join(STACK_DIR, "valkey");
      await Deno.mkdir(home, { recursive: true });
      return {
        cmd: bin,
        args: [
          "--bind",
          HOST,
          "--port",
          String(port),
          "--save",
          "",
          "--appendonly",
          "no",
          "--daemonize",
          "no",
          "--dir",
          home,
          "--logfile",
          "",
        ],
        cwd: home,
      };
    },
    endpoints: (port) => ({
      valkey: { host: HOST, port, url: `redis://${HOST}:${port}` },
    }),
  };
}

async function mongoClasses(): Promise<{ lib: string; classes: string }> {
  const lib = await mavenLib(
    "mongo",
    MONGO_SERVER_VERSION,
    "mongo-java-server.version",
  );
  const source = join(TOOLS, "mongo", "MurmurMongo.java");
  const classes = join(
    dirname(lib),
    `classes-${await sha(await Deno.readTextFile(source))}`,
  );
  if (!(await exists(join(classes, "MurmurMongo.class")))) {
    const staging = `${classes}.tmp-${Deno.pid}`;
    await run(await javacBin(), [
      "-d",
      staging,
      "-cp",
      `${lib}/*`,
      source,
    ], { what: "javac MurmurMongo.java" });
    await Deno.rename(staging, classes).catch(async () => {
      await Deno.remove(staging, { recursive: true });
    });
  }
  return { lib, classes };
}

function mongoDef(): ServiceDef {
  return {
    name: "mongo",
    defaultPort: 27017,
    marker: "MurmurMongo",
    timeoutMs: 90_000,
    probe: probeMongo,
    async install() {
      await javaBin();
      await mongoClasses();
    },
    async prepare(port) {
      const java = await javaBin();
      const { lib, classes } = await mongoClasses();
      const home = join(STACK_DIR, "mongo");
      await Deno.mkdir(home, { recursive: true });
      return {
        cmd: java,
        args: [
          "-Xms64m",
          "-Xmx512m",
          "-XX:+UseSerialGC",
          "-XX:+ExitOnOutOfMemoryError",
          "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
          "-cp",
          `${classes}:${lib}/*`,
          "MurmurMongo",
          HOST,
          String(port),
        ],
        cwd: home,
      };
    },
    endpoints: (port) => ({
      mongo: {
        host: HOST,
        port,
        url: `mongodb://${HOST}:${port}/?directConnection=true`,
      },
    }),
  };
}

async function motoVenv(): Promise<string> {
  const requirements = join(TOOLS, "moto", "requirements.txt");
  const key = await sha(await Deno.readTextFile(requirements));
  const venv = join(CACHE, "venv", `moto-${key}`);
  const bin = join(venv, "bin", "moto_server");
  await once(venv, () => buildMotoVenv(venv, requirements));
  return bin;
}

async function buildMotoVenv(
  venv: string,
  requirements: string,
): Promise<void> {
  const python = await which("python3") ?? await which("python");
  if (!python) await aptInstall("python3-venv");
  say("  moto: installing moto[server] from PyPI into a cached venv");
  await Deno.remove(venv, { recursive: true }).catch(() => undefined);
  await Deno.mkdir(dirname(venv), { recursive: true });
  try {
    await run(python ?? "python3", ["-m", "venv", venv], {
      what: "python3 -m venv",
    });
  } catch (error) {
    await aptInstall("python3-venv");
    await Deno.remove(venv, { recursive: true }).catch(() => undefined);
    await run(python ?? "python3", ["-m", "venv", venv], {
      what: `python3 -m venv (after ${
        (error as Error).message.split("\n")[0]
      })`,
    });
  }
  await run(join(venv, "bin", "pip"), [
    "install",
    "-q",
    "--disable-pip-version-check",
    "-r",
    requirements,
  ], { what: "pip install moto[server]" });
}

function motoDef(): ServiceDef {
  return {
    name: "moto",
    defaultPort: 5000,
    marker: "moto_server",
    timeoutMs: 90_000,
    probe: probeMoto,
    async install() {
      await motoVenv();
    },
    async prepare(port) {
      const bin = await motoVenv();
      const home = join(STACK_DIR, "moto");
      await Deno.mkdir(home, { recursive: true });
      return {
        cmd: bin,
        args: ["-H", HOST, "-p", String(port)],
        cwd: home,
      };
    },
    endpoints: (port) => ({
      s3: { host: HOST, port, url: `http://${HOST}:${port}` },
      kinesis: { host: HOST, port, url: `http://${HOST}:${port}` },
    }),
  };
}

/** The JVM flags Spark 4 needs on JDK 17 (module access for Arrow and Kryo). */
const SPARK_ADD_OPENS = [
  "java.base/java.nio",
  "java.base/sun.nio.ch",
  "java.base/java.lang",
  "java.base/java.util",
  "java.base/java.lang.invoke",
].map((module) => `--add-opens=${module}=ALL-UNNAMED`);

function sparkDef(): ServiceDef {
  return {
    name: "spark",
    defaultPort: 15002,
    marker: "SparkConnectServer",
    timeoutMs: 180_000,
    probe: async (host, port) =>
      (await import("./stack/spark_probe.ts")).probeSpark(host, port),
    async install() {
      await javaBin();
      await mavenLib("spark", SPARK_VERSION, "spark.version");
    },
    async prepare(port) {
      const java = await javaBin();
      const lib = await mavenLib("spark", SPARK_VERSION, "spark.version");
      const home = join(STACK_DIR, "spark");
      // Fresh local dirs on every start: no tables or temp files of an earlier run.
      await Deno.remove(home, { recursive: true }).catch(() => undefined);
      await Deno.mkdir(join(home, "tmp"), { recursive: true });
      const conf: Record<string, string> = {
        "spark.master": "local[2]",
        "spark.app.name": "murmur-stack",
        "spark.driver.host": HOST,
        "spark.driver.bindAddress": HOST,
        "spark.connect.grpc.binding.address": HOST,
        "spark.connect.grpc.binding.port": String(port),
        "spark.ui.enabled": "false",
        // Small local jobs: 200 shuffle partitions would be 200 tasks on 2 cores.
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.warehouse.dir": join(home, "warehouse"),
        "spark.local.dir": join(home, "tmp"),
      };
      return {
        cmd: java,
        args: [
          "-Xms256m",
          "-Xmx1g",
          "-XX:+UseSerialGC",
          "-XX:+ExitOnOutOfMemoryError",
          "-Djava.awt.headless=true",
          `-Djava.io.tmpdir=${join(home, "tmp")}`,
          `-Dlog4j2.configurationFile=${
            join(TOOLS, "spark", "log4j2.properties")
          }`,
          ...Object.entries(conf).map(([k, v]) => `-D${k}=${v}`),
          ...SPARK_ADD_OPENS,
          "-cp",
          `${lib}/*`,
          "org.apache.spark.sql.connect.service.SparkConnectServer",
        ],
        cwd: home,
      };
    },
    endpoints: (port) => ({
      spark: { host: HOST, port, url: `http://${HOST}:${port}` },
    }),
  };
}

const DEFS: Record<StackService, ServiceDef> = {
  kafka: kafkaDef(),
  dynamodb: dynamoDef(),
  valkey: valkeyDef(),
  mongo: mongoDef(),
  moto: motoDef(),
  spark: sparkDef(),
};

// ---------------------------------------------------------------- processes and state

async function readPid(service: StackService): Promise<PidRecord | undefined> {
  try {
    return JSON.parse(
      await Deno.readTextFile(join(PID_DIR, `${service}.json`)),
    ) as PidRecord;
  } catch {
    return undefined;
  }
}

async function writePid(service: StackService, rec: PidRecord): Promise<void> {
  await Deno.mkdir(PID_DIR, { recursive: true });
  await Deno.writeTextFile(
    join(PID_DIR, `${service}.json`),
    JSON.stringify(rec) + "\n",
  );
}

async function removePid(service: StackService): Promise<void> {
  await Deno.remove(join(PID_DIR, `${service}.json`)).catch(() => undefined);
}

/** True when `pid` is alive (and not a zombie) and, if given, its command line contains `marker`. */
async function alive(pid: number, marker?: string): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    if (/\) Z /.test(stat)) return false;
    if (!marker) return true;
    const cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`))
      .replaceAll("\0", " ");
    return cmdline.includes(marker);
  } catch {
    if (await exists("/proc/self")) return false;
    try {
      await run("kill", ["-0", String(pid)], { what: "kill -0" });
      return true;
    } catch {
      return false;
    }
  }
}

function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    try {
      Deno.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

async function stopProcess(pid: number, marker: string): Promise<void> {
  if (!(await alive(pid, marker))) return;
  signalGroup(pid, "SIGTERM");
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (!(await alive(pid))) return;
    await sleep(100);
  }
  signalGroup(pid, "SIGKILL");
  const hard = Date.now() + 5_000;
  while (Date.now() < hard && await alive(pid)) await sleep(100);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readEndpoints(): Promise<
  Partial<Record<EndpointName, EndpointRecord>>
> {
  try {
    return JSON.parse(await Deno.readTextFile(ENDPOINTS));
  } catch {
    return {};
  }
}

async function writeEndpoints(
  map: Partial<Record<EndpointName, EndpointRecord>>,
): Promise<void> {
  await Deno.mkdir(STACK_DIR, { recursive: true });
  const tmp = `${ENDPOINTS}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify(map, null, 2) + "\n");
  await Deno.rename(tmp, ENDPOINTS);
}

/** Holds `.stack/lock` so two `stack:up`/`down` calls do not race; stale locks are taken over. */
async function withLock<T>(work: () => Promise<T>): Promise<T> {
  await Deno.mkdir(STACK_DIR, { recursive: true });
  const lock = join(STACK_DIR, "lock");
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  while (true) {
    try {
      await Deno.writeTextFile(lock, String(Deno.pid), { createNew: true });
      break;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      const holder = Number(
        (await Deno.readTextFile(lock).catch(() => "")).trim(),
      );
      if (!holder || !(await alive(holder))) {
        await Deno.remove(lock).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `another stack command (pid ${holder}) holds ${lock}; stop it or remove the file`,
        );
      }
      if (!told) {
        say(`waiting for another stack command (pid ${holder}) to finish`);
        told = true;
      }
      await sleep(300);
    }
  }
  try {
    return await work();
  } finally {
    await Deno.remove(lock).catch(() => undefined);
  }
}

function timeoutFor(def: ServiceDef): number {
  const env = Number(Deno.env.get("MURMUR_STACK_TIMEOUT_S"));
  return env > 0 ? env * 1000 : def.timeoutMs;
}

/** Waits until the probe passes, the process dies, or the timeout passes. */
async function waitHealthy(
  def: ServiceDef,
  port: number,
  isAlive: () => Promise<boolean>,
): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutFor(def);
  let last: ProbeResult = { ok: false, detail: "not probed" };
  while (Date.now() < deadline) {
    last = await def.probe(HOST, port);
    if (last.ok) return last;
    if (!(await isAlive())) {
      return { ok: false, detail: `process exited (${last.detail})` };
    }
    await sleep(200);
  }
  return {
    ok: false,
    detail: `not healthy after ${timeoutFor(def) / 1000} s (${last.detail})`,
  };
}

async function spawnService(
  def: ServiceDef,
  port: number,
): Promise<UpResult & { log: string }> {
  const started = Date.now();
  const log = join(LOG_DIR, `${def.name}.log`);
  await Deno.mkdir(LOG_DIR, { recursive: true });
  await Deno.writeTextFile(
    log,
    `=== ${
      new Date().toISOString()
    } tools/stack.ts starts ${def.name} on ${HOST}:${port}\n`,
  );
  let launch: Launch;
  try {
    await def.install();
    launch = await def.prepare(port, log);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await Deno.writeTextFile(log, message + "\n", { append: true });
    return {
      service: def.name,
      state: "failed",
      port,
      ms: Date.now() - started,
      detail: message.split("\n")[0] ?? message,
      log,
    };
  }
  // `exec` keeps the pid; the log file is sh's $0. detached: own session and process group.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'exec "$@" >>"$0" 2>&1 </dev/null',
      log,
      launch.cmd,
      ...launch.args,
    ],
    ...(launch.cwd ? { cwd: launch.cwd } : {}),
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  let exited = false;
  child.status.then(() => {
    exited = true;
  }, () => {
    exited = true;
  });
  const pid = child.pid;
  await writePid(def.name, {
    pid,
    port,
    startedAt: new Date().toISOString(),
  });
  const health = await waitHealthy(
    def,
    port,
    async () => !exited && await alive(pid),
  );
  if (!health.ok) {
    await stopProcess(pid, def.marker);
    await removePid(def.name);
    return {
      service: def.name,
      state: "failed",
      port,
      pid,
      ms: Date.now() - started,
      detail: health.detail,
      log,
    };
  }
  return {
    service: def.name,
    state: "started",
    port,
    pid,
    ms: Date.now() - started,
    detail: health.detail,
    log,
  };
}

async function ensure(def: ServiceDef): Promise<UpResult & { log: string }> {
  const started = Date.now();
  const log = join(LOG_DIR, `${def.name}.log`);
  const rec = await readPid(def.name);
  if (rec) {
    if (await alive(rec.pid, def.marker)) {
      const health = await waitHealthy(
        def,
        rec.port,
        () => alive(rec.pid, def.marker),
      );
      if (health.ok) {
        return {
          service: def.name,
          state: "running",
          port: rec.port,
          pid: rec.pid,
          ms: Date.now() - started,
          detail: health.detail,
          log,
        };
      }
      say(
        `${def.name}: pid ${rec.pid} is not healthy (${health.detail}); restarting it`,
      );
      await stopProcess(rec.pid, def.marker);
    }
    await removePid(def.name);
  }
  const existing = await def.probe(HOST, def.defaultPort);
  if (existing.ok) {
    return {
      service: def.name,
      state: "external",
      port: def.defaultPort,
      ms: Date.now() - started,
      detail: existing.detail,
      log,
    };
  }
  let port = def.defaultPort;
  if (await portOpen(HOST, port)) {
    port = freePort();
    say(
      `${def.name}: port ${def.defaultPort} is held by another program; using ${port}`,
    );
  }
  return await spawnService(def, port);
}

/**
 * A random Kafka cluster id: 16 bytes as unpadded base64url, the form
 * `kafka-storage format -t` takes. The first byte's top bit is cleared, so
 * the id starts with `A`–`f` and never with `-` (which the tool would read
 * as a flag, failing about one start in 64).
 *
 * @param bytes 16 random bytes; default: fresh ones.
 * @returns The id, 22 characters.
 */
export function kafkaClusterId(
  bytes: Uint8Array = crypto.getRandomValues(new Uint8Array(16)),
): string {
  const id = Uint8Array.from(bytes);
  id[0] = id[0]! & 0x7f;
  return btoa(String.fromCharCode(...id))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Parses service names (aliases: redis, s3, kinesis, dynamo, mongodb).
 *
 * @param names Names given on the command line; none means every default
 * service (opt-in ones such as `spark` only when named).
 * @returns The services, without duplicates, in table order.
 * @throws {TypeError} When a name is not a known service.
 */
export function parseServices(names: readonly string[]): StackService[] {
  if (names.length === 0) return [...SERVICES];
  const chosen = new Set<StackService>();
  for (const name of names) {
    const service = ALIASES[name.toLowerCase()];
    if (!service) {
      throw new TypeError(
        `unknown service "${name}": use one of ${
          Object.keys(ALIASES).join(", ")
        }`,
      );
    }
    chosen.add(service);
  }
  return [...SERVICES, ...OPT_IN_SERVICES].filter((s) => chosen.has(s));
}

/**
 * Starts the given services in parallel (all by default), reusing healthy ones,
 * and writes `.stack/endpoints.json`.
 *
 * @param services Services to bring up.
 * @returns One result per service; check `state === "failed"`.
 */
export async function up(
  services: readonly StackService[] = SERVICES,
): Promise<UpResult[]> {
  return await withLock(async () => {
    const results = await Promise.all(services.map((s) => ensure(DEFS[s])));
    const endpoints = await readEndpoints();
    for (const r of results) {
      const entries = DEFS[r.service].endpoints(r.port);
      for (const [name, value] of Object.entries(entries)) {
        if (r.state === "failed") delete endpoints[name as EndpointName];
        else endpoints[name as EndpointName] = value;
      }
    }
    await writeEndpoints(endpoints);
    for (const r of results) {
      if (r.state === "failed") {
        say(
          `\n${r.service} did not come up: ${r.detail}\n--- last lines of ${r.log} ---\n${await logTail(
            r.log,
          )}\n---`,
        );
      }
    }
    return results.map(({ log: _log, ...rest }) => rest);
  });
}

/**
 * Downloads and prepares what the services need (Maven jars, the moto venv,
 * redis-server) without starting anything: a warm cache makes `up` fast.
 *
 * @param services Services to install (all by default).
 * @returns When everything is in the cache.
 */
export async function install(
  services: readonly StackService[] = SERVICES,
): Promise<void> {
  await Promise.all(services.map((s) => DEFS[s].install()));
}

/**
 * Makes sure Debian's Chromium is installed for the browser tests of the admin
 * UI (`tests/ui_test.ts`); installs it with apt-get when it is missing.
 *
 * @returns The path of the Chromium executable.
 */
export async function ensureChromium(): Promise<string> {
  const path = "/usr/bin/chromium";
  if (!(await exists(path))) await aptInstall("chromium");
  if (!(await exists(path))) {
    throw new Error(
      `chromium is still missing at ${path} after apt-get: install it with \`apt-get install -y chromium\``,
    );
  }
  return path;
}

/** The AWS Lambda Runtime Interface Emulator's module version (the Go module proxy's `@latest` when pinned). */
const RIE_VERSION = "v0.0.0-20261030222936-bef5c4ba774d";

/**
 * Makes sure the AWS Lambda Runtime Interface Emulator is built (with
 * `go install` from the Go module proxy, cached under `~/.cache/murmur/bin`)
 * for the Lambda tests (`tests/lambda_rie_test.ts`).
 *
 * @returns The path of the `aws-lambda-rie` executable.
 */
export async function ensureLambdaRie(): Promise<string> {
  const dir = join(CACHE, "bin", `aws-lambda-rie-${RIE_VERSION}`);
  const path = join(dir, "aws-lambda-rie");
  await once(dir, async () => {
    const go = await which("go") ??
      (await exists("/usr/local/go/bin/go")
        ? "/usr/local/go/bin/go"
        : undefined);
    if (go === undefined) {
      throw new Error(
        "aws-lambda-rie: the Go toolchain is missing; install Go (https://go.dev/dl) so `go install` can build the emulator",
      );
    }
    say(
      `  aws-lambda-rie: building ${RIE_VERSION} with go install (cached after)`,
    );
    await run(go, [
      "install",
      `github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@${RIE_VERSION}`,
    ], {
      env: { GOBIN: dir, GOFLAGS: "-mod=mod" },
      what: "go install aws-lambda-rie",
    });
  });
  return path;
}

/** What `down` did for one service. */
export interface DownResult {
  /** The service. */
  readonly service: StackService;
  /** `stopped`: we stopped it; `not-running`: nothing of ours was running. */
  readonly state: "stopped" | "not-running";
  /** The pid that was stopped. */
  readonly pid?: number;
}

/**
 * Stops the services that `up` started (from the pid files); never touches
 * processes the stack did not start.
 *
 * @param services Services to stop (all by default).
 * @returns One result per service.
 */
export async function down(
  services: readonly StackService[] = [...SERVICES, ...OPT_IN_SERVICES],
): Promise<DownResult[]> {
  return await withLock(async () => {
    const results = await Promise.all(services.map(async (s) => {
      const def = DEFS[s];
      const rec = await readPid(s);
      if (!rec || !(await alive(rec.pid, def.marker))) {
        await removePid(s);
        return { service: s, state: "not-running" } as DownResult;
      }
      await stopProcess(rec.pid, def.marker);
      await removePid(s);
      return { service: s, state: "stopped", pid: rec.pid } as DownResult;
    }));
    const endpoints = await readEndpoints();
    for (const r of results) {
      if (r.state !== "stopped") continue;
      for (const name of Object.keys(DEFS[r.service].endpoints(0))) {
        delete endpoints[name as EndpointName];
      }
    }
    await writeEndpoints(endpoints);
    return results;
  });
}

/** One row of `status`. */
export interface StatusRow {
  /** The service. */
  readonly service: StackService;
  /** `up` (ours), `external` (healthy but not started by the stack) or `down`. */
  readonly state: "up" | "external" | "down";
  /** The port checked. */
  readonly port: number;
  /** The pid when the stack manages the process. */
  readonly pid?: number;
  /** Probe detail. */
  readonly detail: string;
}

/**
 * Probes every service at the protocol level.
 *
 * @param services Services to check (all by default).
 * @returns One row per service.
 */
export async function status(
  services: readonly StackService[] = SERVICES,
): Promise<StatusRow[]> {
  const endpoints = await readEndpoints();
  return await Promise.all(services.map(async (s): Promise<StatusRow> => {
    const def = DEFS[s];
    const rec = await readPid(s);
    const ours = rec !== undefined && await alive(rec.pid, def.marker);
    const firstName = Object.keys(def.endpoints(0))[0] as EndpointName;
    const port = ours
      ? rec.port
      : endpoints[firstName]?.port ?? def.defaultPort;
    const probe = await def.probe(HOST, port);
    const state = probe.ok ? (ours ? "up" : "external") : "down";
    return {
      service: s,
      state,
      port,
      ...(ours ? { pid: rec.pid } : {}),
      detail: probe.detail,
    };
  }));
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) =>
    Math.max(...rows.map((r) => (r[i] ?? "").length))
  );
  return rows.map((r) =>
    r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  ).join("\n");
}

function endpointText(service: StackService, port: number): string {
  return Object.entries(DEFS[service].endpoints(port)).map(([name, e]) =>
    service === "moto" ? `${name} ${e.url}` : e.url
  ).join(", ");
}

async function main(args: string[]): Promise<number> {
  const [command = "status", ...rest] = args;
  const json = rest.includes("--json");
  const names = rest.filter((a) => !a.startsWith("--"));
  const services = parseServices(names);
  if (command === "up") {
    const t0 = Date.now();
    const results = await up(services);
    if (json) console.log(JSON.stringify(results, null, 2));
    else {
      console.log(table([
        ["service", "state", "endpoint", "pid", "time", "check"],
        ...results.map((r) => [
          r.service,
          r.state,
          endpointText(r.service, r.port),
          r.pid ? String(r.pid) : "-",
          `${(r.ms / 1000).toFixed(1)}s`,
          r.detail,
        ]),
      ]));
      console.log(
        `stack ${
          results.some((r) => r.state === "failed") ? "FAILED" : "up"
        } in ${
          ((Date.now() - t0) / 1000).toFixed(1)
        }s; endpoints in ${ENDPOINTS}, logs in ${LOG_DIR}`,
      );
    }
    const failed = results.filter((r) => r.state === "failed");
    if (failed.length > 0) {
      console.error(
        `stack:up failed: ${
          failed.map((r) => r.service).join(", ")
        } did not come up (see the log tail above)`,
      );
      return 1;
    }
    return 0;
  }
  if (command === "install") {
    const t0 = Date.now();
    await install(services);
    console.log(
      `installed ${services.join(", ")} in ${
        ((Date.now() - t0) / 1000).toFixed(1)
      }s (cache: ${CACHE})`,
    );
    return 0;
  }
  if (command === "down") {
    // No names: stop everything the stack started, opt-in services included.
    const results = await down(names.length === 0 ? undefined : services);
    if (json) console.log(JSON.stringify(results, null, 2));
    else {
      console.log(table([
        ["service", "state", "pid"],
        ...results.map((r) => [
          r.service,
          r.state,
          r.pid ? String(r.pid) : "-",
        ]),
      ]));
    }
    return 0;
  }
  if (command === "status") {
    const rows = await status(services);
    if (json) console.log(JSON.stringify(rows, null, 2));
    else {
      console.log(table([
        ["service", "state", "endpoint", "pid", "check"],
        ...rows.map((r) => [
          r.service,
          r.state,
          endpointText(r.service, r.port),
          r.pid ? String(r.pid) : "-",
          r.detail,
        ]),
      ]));
    }
    return 0;
  }
  console.error(
    `usage: deno run -A tools/stack.ts up|down|status|install [service...] [--json]\nservices: ${
      SERVICES.join(", ")
    } (aliases: redis, s3, kinesis)`,
  );
  return 2;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(
      `stack: ${error instanceof Error ? error.message : String(error)}`,
    );
    Deno.exit(1);
  }
}
