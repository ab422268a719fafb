// Shared fixture of the replay/CLI tests: the "revenue per shop per day" pipeline over a month of orders.

/** One day in milliseconds. */
export const DAY = 86_400_000;

/** The first day of the archived month (October 2026, 31 days, before "now"). */
export const START = Date.UTC(2026, 9, 1);

/**
 * The YAML list item of the `revenue` pipeline (sum of `amount` per `shop`
 * and for all shops, in daily buckets by the event's `at`), to put under
 * `pipelines:`; more settings of that pipeline may follow it at the same
 * indentation.
 */
export const REVENUE_PIPELINE = `  - name: revenue
    keys: [shop, { const: all }]
    value: amount
    aggregate: sum
    window: { every: day, retention: 3650d }
    time: at
`;
