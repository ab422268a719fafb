/**
 * Test helpers for the local service stack (`deno task stack:up`).
 *
 * `service(name)` returns where a service listens, from an environment
 * override or `.stack/endpoints.json`, after checking that something accepts
 * connections there. When the service is down it throws an error that names
 * the service: integration tests fail loudly, they are never skipped.
 *
 * ```ts ignore
 * import { awsConfig, service, uniqueName } from "./_stack.ts";
 * const dynamo = await service("dynamodb");
 * const client = new DynamoDBClient(awsConfig(dynamo));
 * const table = uniqueName("counters");
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { EndpointName } from "../tools/stack.ts";

/** Names of the services tests can ask for: the stack's endpoint names. */
export type ServiceName = EndpointName;

/** Where a service listens, ready to hand to its client. */
export interface Endpoint {
  /** The service. */
  readonly service: ServiceName;
  /** Host of the (first) server. */
  readonly host: string;
  /** Port of the (first) server. */
  readonly port: number;
  /**
   * Ready-to-use address: `host:port[,host:port]` for Kafka,
   * `http://host:port` for DynamoDB, S3 and Kinesis, `redis://host:port` for
   * Valkey, `mongodb://host:port/?directConnection=true` for Mongo.
   */
  readonly url: string;
  /** `host:port` of every broker (Kafka); `[host:port]` for the other services. */
  readonly brokers: string[];
}

/** Thrown when a service the test needs is not running. */
export class ServiceUnavailableError extends Error {
  /** The service that is not running. */
  readonly service: ServiceName;
  /**
   * Builds the message that names the service and says how to start it.
   *
   * @param service The service that is not running.
   * @param where The `host:port` that was tried.
   * @param why Extra detail.
   */
  constructor(service: ServiceName, where: string, why = "") {
    super(
      `service "${service}" is not running on ${where}${
        why ? ` (${why})` : ""
      }: start the stack with \`deno task stack:up\``,
    );
    this.name = "ServiceUnavailableError";
    this.service = service;
  }
}

const ENV: Record<ServiceName, string> = {
  kafka: "MURMUR_KAFKA_BROKERS",
  dynamodb: "MURMUR_DYNAMODB_ENDPOINT",
  valkey: "MURMUR_VALKEY_URL",
  mongo: "MURMUR_MONGO_URL",
  s3: "MURMUR_S3_ENDPOINT",
  kinesis: "MURMUR_KINESIS_ENDPOINT",
  spark: "MURMUR_SPARK_URL",
};

const DEFAULT_PORT: Record<ServiceName, number> = {
  kafka: 9092,
  dynamodb: 8000,
  valkey: 6379,
  mongo: 27017,
  s3: 5000,
  kinesis: 5000,
  spark: 15002,
};

const ENDPOINTS_FILE = fileURLToPath(
  new URL("../.stack/endpoints.json", import.meta.url),
);

interface Recorded {
  host?: unknown;
  port?: unknown;
  url?: unknown;
}

function fromUrl(service: ServiceName, url: string): Endpoint {
  if (service === "kafka") {
    const brokers = url.split(",").map((b) => b.trim()).filter((b) => b);
    const first = brokers[0] ?? "";
    const colon = first.lastIndexOf(":");
    const host = colon > 0 ? first.slice(0, colon) : first;
    const port = colon > 0 ? Number(first.slice(colon + 1)) : 9092;
    return { service, host, port, url: brokers.join(","), brokers };
  }
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = parsed.port ? Number(parsed.port) : DEFAULT_PORT[service];
  return { service, host, port, url, brokers: [`${host}:${port}`] };
}

async function recorded(service: ServiceName): Promise<Endpoint | undefined> {
  let map: Record<string, Recorded>;
  try {
    map = JSON.parse(await Deno.readTextFile(ENDPOINTS_FILE));
  } catch {
    return undefined;
  }
  const entry = map[service];
  if (!entry || typeof entry.url !== "string") return undefined;
  return fromUrl(service, entry.url);
}

function defaultEndpoint(service: ServiceName): Endpoint {
  const port = DEFAULT_PORT[service];
  const url = service === "kafka"
    ? `127.0.0.1:${port}`
    : service === "valkey"
    ? `redis://127.0.0.1:${port}`
    : service === "mongo"
    ? `mongodb://127.0.0.1:${port}/?directConnection=true`
    : `http://127.0.0.1:${port}`;
  return fromUrl(service, url);
}

async function reachable(host: string, port: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const conn = await Promise.race([
      Deno.connect({ hostname: host, port }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("connect timed out after 2 s")),
          2000,
        );
      }),
    ]);
    conn.close();
    return "";
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Returns the endpoint of a running service.
 *
 * Looks at the environment override first (`MURMUR_KAFKA_BROKERS`,
 * `MURMUR_DYNAMODB_ENDPOINT`, `MURMUR_VALKEY_URL`, `MURMUR_MONGO_URL`,
 * `MURMUR_S3_ENDPOINT`, `MURMUR_KINESIS_ENDPOINT`), then at
 * `.stack/endpoints.json`, then at the conventional port, and checks that the
 * port accepts connections.
 *
 * @param name The service.
 * @returns Where the service listens.
 * @throws {ServiceUnavailableError} When nothing listens there.
 */
export async function service(name: ServiceName): Promise<Endpoint> {
  const override = Deno.env.get(ENV[name]);
  const endpoint = override
    ? fromUrl(name, override)
    : await recorded(name) ?? defaultEndpoint(name);
  const problem = await reachable(endpoint.host, endpoint.port);
  if (problem) {
    throw new ServiceUnavailableError(
      name,
      `${endpoint.host}:${endpoint.port}`,
      problem,
    );
  }
  return endpoint;
}

let counter = 0;

/**
 * Returns a name no other test run uses, for tables, topics, buckets, streams
 * and keys: `prefix-<base36 time>-<random>-<counter>`, lower case, at most 63
 * characters (valid for S3 buckets, Kafka topics and DynamoDB tables).
 *
 * @param prefix A readable prefix (lower case letters, digits and dashes).
 * @returns A fresh name.
 */
export function uniqueName(prefix: string): string {
  counter += 1;
  const random = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  return `${prefix}-${Date.now().toString(36)}-${random}-${counter}`
    .toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63);
}

/** Client options for the AWS SDK v3 clients against a local endpoint. */
export interface AwsLocalConfig {
  /** The endpoint URL. */
  endpoint: string;
  /** A fixed region. */
  region: string;
  /** Credentials: the MinIO ones from compose.yaml; the other local servers accept any. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Path-style bucket addressing (needed for S3 on localhost). */
  forcePathStyle: boolean;
  /**
   * An HTTP/1.1 handler: the Kinesis client defaults to HTTP/2, which local
   * plain-HTTP servers (moto) do not speak.
   */
  requestHandler: NodeHttpHandler;
}

/**
 * Options for `new DynamoDBClient(...)`, `new S3Client(...)` or
 * `new KinesisClient(...)` that point at a local endpoint.
 *
 * @param endpoint From {@link service}.
 * @returns Endpoint, region `us-east-1`, dummy credentials, path-style S3
 * and an HTTP/1.1 request handler.
 */
export function awsConfig(endpoint: Endpoint): AwsLocalConfig {
  return {
    endpoint: endpoint.url,
    region: "us-east-1",
    credentials: { accessKeyId: "murmur", secretAccessKey: "murmur-secret" },
    forcePathStyle: true,
    requestHandler: new NodeHttpHandler(),
  };
}

/**
 * Polls `check` until it returns a value other than `undefined`, or throws
 * after `timeoutMs` with `what` in the message.
 *
 * @typeParam T The value `check` produces.
 * @param what What is awaited, for the error message.
 * @param check Returns the value once ready, `undefined` before.
 * @param timeoutMs How long to wait.
 * @returns The first defined value.
 * @throws {Error} When the time runs out.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
