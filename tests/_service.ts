// Registering a test that talks to the stack's services.

/**
 * Registers a test against the stack's services. The op and resource
 * sanitizers are off: service clients keep sockets and timers alive past a
 * test (AWS SDK agents, Kafka and Valkey connections).
 *
 * @param name The test's name.
 * @param fn The test.
 */
export function serviceTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
}
