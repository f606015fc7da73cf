/**
 * Topic policy of the router: allow/deny by prefix, and the subscriptions the
 * router makes upstream so that sources send nothing that nobody downstream wants.
 *
 * @module
 */

/**
 * Whether `topic` falls under the rule `prefix` of --allow or --deny: a prefix
 * ending in `.` (or empty) matches by prefix (`http.` → `http.hit`,
 * `http.debug.x`); a whole type matches itself and its dotted children only
 * (`http` → `http`, `http.hit`; not `httpd.access` or `https.x`), as rsyslog and
 * Fluent Bit users expect of a tag.
 *
 * @example
 * ```ts
 * import { topicMatches } from "@eventstorm/router";
 * topicMatches("http", "http.hit"); // true
 * topicMatches("http", "httpd.access"); // false
 * topicMatches("http.", "http"); // false
 * ```
 */
export function topicMatches(prefix: string, topic: string): boolean {
  if (!topic.startsWith(prefix)) return false;
  return isFamily(prefix) || topic.length === prefix.length || topic[prefix.length] === ".";
}

/** A rule that matches by raw prefix: empty, or ending in `.`. */
function isFamily(prefix: string): boolean {
  return prefix === "" || prefix.endsWith(".");
}

/** Whether every topic that `rule` matches is also matched by `deny`. */
function coveredBy(rule: string, deny: string): boolean {
  return isFamily(deny) ? rule.startsWith(deny) : topicMatches(deny, rule.replace(/\.$/, ""));
}

/**
 * The --allow prefixes that every topic they match is denied by some --deny
 * prefix: when that is all of them (and there are some), the router can pass
 * nothing.
 *
 * @example
 * ```ts
 * import { deniedAllows } from "@eventstorm/router";
 * deniedAllows(["http.", "smtp."], ["http"]); // ["http."]
 * ```
 */
export function deniedAllows(allow: readonly string[], deny: readonly string[]): string[] {
  return allow.filter((rule) => deny.some((d) => coveredBy(rule, d)));
}

/** Options of {@linkcode TopicFilter}. */
export interface TopicFilterOptions {
  /** Prefixes that may pass; everything when empty. */
  allow?: string[];
  /** Prefixes that never pass, even when allowed. */
  deny?: string[];
}

/**
 * Decides per topic (cached) and maps downstream subscriptions to upstream ones.
 *
 * @example
 * ```ts
 * import { TopicFilter } from "@eventstorm/router";
 * const filter = new TopicFilter({ allow: ["http."], deny: ["http.debug"] });
 * filter.passes("http.hit"); // true
 * filter.passes("http.debug.x"); // false
 * filter.passes("http.debugger"); // true: http.debug is a type, not a raw prefix
 * filter.upstreamFor(""); // ["http."]
 * ```
 */
export class TopicFilter {
  readonly #allow: string[];
  readonly #deny: string[];
  readonly #cache = new Map<string, boolean>();

  /** Creates the filter. */
  constructor(options: TopicFilterOptions = {}) {
    this.#allow = options.allow?.length ? [...options.allow] : [""];
    this.#deny = [...(options.deny ?? [])];
  }

  /** Whether messages on `topic` pass. */
  passes(topic: string): boolean {
    let verdict = this.#cache.get(topic);
    if (verdict === undefined) {
      verdict = this.#allow.some((prefix) => topicMatches(prefix, topic)) &&
        !this.#deny.some((prefix) => topicMatches(prefix, topic));
      // Topics come from the network: bound the cache rather than trust their variety.
      if (this.#cache.size >= 10_000) this.#cache.clear();
      this.#cache.set(topic, verdict);
    }
    return verdict;
  }

  /**
   * The upstream prefixes that serve a downstream subscription to `prefix`: its
   * intersection with each allowed prefix, none where a deny covers it entirely.
   */
  upstreamFor(prefix: string): string[] {
    // A deny covers a subscription when every topic starting with it is denied.
    if (
      this.#deny.some((deny) =>
        isFamily(deny) ? prefix.startsWith(deny) : prefix.startsWith(`${deny}.`)
      )
    ) {
      return [];
    }
    const result = new Set<string>();
    for (const allow of this.#allow) {
      // ZeroMQ subscribes by raw prefix: a type's subscription (http) also brings
      // httpd.*, which passes() then refuses (counted as denied).
      if (allow.startsWith(prefix)) result.add(allow);
      else if (prefix.startsWith(allow) && (isFamily(allow) || prefix[allow.length] === ".")) {
        result.add(prefix);
      }
    }
    return [...result];
  }
}

/**
 * Reference counts of upstream subscriptions: several downstream prefixes can
 * need the same upstream one, which is subscribed on the first need and
 * unsubscribed when the last goes.
 *
 * @example
 * ```ts
 * import { SubscriptionTable } from "@eventstorm/router";
 * const table = new SubscriptionTable();
 * table.add(["http."]); // ["http."]
 * table.add(["http."]); // []
 * table.remove(["http."]); // []
 * table.remove(["http."]); // ["http."]
 * ```
 */
export class SubscriptionTable {
  readonly #counts = new Map<string, number>();

  /** Adds one need for each prefix; returns those newly needed. */
  add(prefixes: string[]): string[] {
    const added: string[] = [];
    for (const prefix of prefixes) {
      const count = this.#counts.get(prefix) ?? 0;
      this.#counts.set(prefix, count + 1);
      if (count === 0) added.push(prefix);
    }
    return added;
  }

  /** Removes one need for each prefix; returns those no longer needed. */
  remove(prefixes: string[]): string[] {
    const removed: string[] = [];
    for (const prefix of prefixes) {
      const count = this.#counts.get(prefix) ?? 0;
      if (count <= 1) {
        if (this.#counts.delete(prefix)) removed.push(prefix);
      } else {
        this.#counts.set(prefix, count - 1);
      }
    }
    return removed;
  }

  /** Upstream prefixes subscribed now. */
  active(): string[] {
    return [...this.#counts.keys()];
  }
}
