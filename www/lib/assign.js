/**
 * @module assign
 * The "select" stage's pure core: which version a unit gets from a channel's `rollout`
 * section (the same semantics as the Rust `burn_edge_formats::rollout::assign`; see the spec
 * in the channel schema). `validateRollout` refuses a malformed or unsafe section with a
 * specific message before anything in it is used; `assign` is then deterministic in the unit
 * id, its attributes, the time and the stored (sticky) assignments. Importing it touches no
 * browser API, so Node tests run it.
 */
import { chooseVariation, getBucketRanges, hash, inNamespace } from './bucketing.js';
import { BurnEdgeError, ChannelError } from './errors.js';
import { isSemver } from './urls.js';

/**
 * @typedef {{ name: string, version: string, weight?: number }} Arm
 * @typedef {{ at: string, coverage: number }} RampStep
 * @typedef {{ key: string, kind: 'rollout' | 'experiment', alias: string, seed?: string, hashAttribute?: string,
 *             hashVersion?: number, bucketVersion?: number, minBucketVersion?: number, coverage?: number,
 *             namespace?: { id: string, range: [number, number] }, condition?: Record<string, unknown[]>,
 *             ramp?: RampStep[], arms: Arm[] }} Rule
 * @typedef {{ alias: string, challenger: string, sampleRate: number }} ShadowRule
 * @typedef {{ key: string, alias: string, arms: [{ name: string, version: string }, { name: string, version: string }] }} InterleaveRule
 * @typedef {{ kill?: boolean, rules?: Rule[], shadow?: ShadowRule[], interleave?: InterleaveRule[] }} Rollout
 * @typedef {{ schemaVersion: number, name?: string, aliases: Record<string, string>, versions?: string[],
 *             updatedAt?: string, rollout?: Rollout }} Channel
 * @typedef {{ version: string, alias: string, rule: string | null, kind: 'rollout' | 'experiment' | 'alias' | 'pin' | 'kill',
 *             arm: string | null, bucket: number | null, bucketVersion: number | null }} Assignment
 * @typedef {{ alias: string, id?: string | null, attributes?: Record<string, unknown>, now?: number | Date | string,
 *             stored?: Record<string, string>, pin?: string | null }} AssignInput
 *   `stored`: sticky assignments, `rule key + "__" + bucketVersion` → arm name.
 */

const KEY = /^[A-Za-z0-9._-]{1,64}$/;
const WEIGHT_TOLERANCE = 1e-6;

/** @param {unknown} v @returns {v is Record<string, unknown>} */
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
/** @param {unknown} v */
const show = (v) => JSON.stringify(v)?.slice(0, 80) ?? String(v);
/** @param {unknown} v */
const unit = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
/** @param {unknown} v */
const counter = (v) => v === undefined || (Number.isInteger(v) && /** @type {number} */ (v) >= 0);

/**
 * @param {Record<string, unknown>} obj
 * @param {readonly string[]} allowed
 * @param {string} where
 */
function onlyFields(obj, allowed, where) {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ChannelError(`${where} has an unknown field ${show(k)} (allowed: ${allowed.join(', ')})`);
  }
}

/**
 * @param {Channel} channel
 * @param {unknown} version
 * @param {string} where
 */
function published(channel, version, where) {
  if (typeof version !== 'string' || !isSemver(version)) throw new ChannelError(`${where} is ${show(version)}, not a semantic version`);
  const versions = Array.isArray(channel.versions) ? channel.versions : Object.values(channel.aliases ?? {});
  if (!versions.includes(version)) throw new ChannelError(`${where} is ${version}, which the channel does not publish (versions: ${versions.join(', ')})`);
}

/**
 * Throws ChannelError unless the channel's `rollout` section (absent is fine) is valid.
 * @param {Channel} channel a parsed channel (its schemaVersion already checked)
 */
export function validateRollout(channel) {
  const r = /** @type {unknown} */ (channel.rollout);
  if (r === undefined || r === null) return;
  if (!isObject(r)) throw new ChannelError(`rollout is ${show(r)}, not an object`);
  onlyFields(r, ['kill', 'rules', 'shadow', 'interleave'], 'rollout');
  if (r.kill !== undefined && typeof r.kill !== 'boolean') throw new ChannelError(`rollout.kill is ${show(r.kill)}, not a boolean`);
  const keys = new Set();
  /** @param {unknown} key @param {string} where */
  const uniqueKey = (key, where) => {
    if (typeof key !== 'string' || !KEY.test(key)) throw new ChannelError(`${where}.key is ${show(key)}: use 1 to 64 of A-Z a-z 0-9 . _ -`);
    if (keys.has(key)) throw new ChannelError(`${where}.key ${key} is used twice`);
    keys.add(key);
  };
  /** @param {unknown} alias @param {string} where */
  const knownAlias = (alias, where) => {
    if (typeof alias !== 'string' || !Object.hasOwn(channel.aliases ?? {}, alias)) {
      throw new ChannelError(`${where} is ${show(alias)}, not one of the channel's aliases (${Object.keys(channel.aliases ?? {}).join(', ')})`);
    }
  };
  /** @param {unknown} list @param {string} where */
  const array = (list, where) => {
    if (list === undefined) return [];
    if (!Array.isArray(list)) throw new ChannelError(`${where} is ${show(list)}, not a list`);
    return list;
  };

  array(r.rules, 'rollout.rules').forEach((rule, i) => {
    const at = `rollout.rules[${i}]`;
    if (!isObject(rule)) throw new ChannelError(`${at} is ${show(rule)}, not an object`);
    onlyFields(rule, ['key', 'kind', 'alias', 'seed', 'hashAttribute', 'hashVersion', 'bucketVersion', 'minBucketVersion',
      'coverage', 'namespace', 'condition', 'ramp', 'arms'], at);
    uniqueKey(rule.key, at);
    if (rule.kind !== 'rollout' && rule.kind !== 'experiment') throw new ChannelError(`${at}.kind is ${show(rule.kind)}: "rollout" or "experiment"`);
    knownAlias(rule.alias, `${at}.alias`);
    if (rule.seed !== undefined && (typeof rule.seed !== 'string' || !rule.seed)) {
      throw new ChannelError(`${at}.seed is ${show(rule.seed)}: a non-empty string (leave it out to use the key)`);
    }
    if (rule.hashAttribute !== undefined && (typeof rule.hashAttribute !== 'string' || !rule.hashAttribute)) {
      throw new ChannelError(`${at}.hashAttribute is ${show(rule.hashAttribute)}, not an attribute name`);
    }
    if (rule.hashVersion !== undefined && rule.hashVersion !== 1 && rule.hashVersion !== 2) {
      throw new ChannelError(`${at}.hashVersion is ${show(rule.hashVersion)}: 1 or 2`);
    }
    if (!counter(rule.bucketVersion)) throw new ChannelError(`${at}.bucketVersion is ${show(rule.bucketVersion)}, not a whole number >= 0`);
    if (!counter(rule.minBucketVersion)) throw new ChannelError(`${at}.minBucketVersion is ${show(rule.minBucketVersion)}, not a whole number >= 0`);
    if (/** @type {number} */ (rule.minBucketVersion ?? 0) > /** @type {number} */ (rule.bucketVersion ?? 0)) {
      throw new ChannelError(`${at}.minBucketVersion ${rule.minBucketVersion} is above its bucketVersion ${rule.bucketVersion ?? 0}`);
    }
    if (rule.coverage !== undefined && !unit(rule.coverage)) throw new ChannelError(`${at}.coverage is ${show(rule.coverage)}, not in [0, 1]`);
    if (rule.namespace !== undefined) {
      const ns = rule.namespace;
      if (!isObject(ns)) throw new ChannelError(`${at}.namespace is ${show(ns)}, not an object`);
      onlyFields(ns, ['id', 'range'], `${at}.namespace`);
      if (typeof ns.id !== 'string' || !KEY.test(ns.id)) throw new ChannelError(`${at}.namespace.id is ${show(ns.id)}: use 1 to 64 of A-Z a-z 0-9 . _ -`);
      const range = ns.range;
      if (!Array.isArray(range) || range.length !== 2 || !unit(range[0]) || !unit(range[1]) || range[0] > range[1]) {
        throw new ChannelError(`${at}.namespace.range is ${show(range)}: [start, end] within [0, 1], start <= end`);
      }
    }
    if (rule.condition !== undefined) {
      if (!isObject(rule.condition)) throw new ChannelError(`${at}.condition is ${show(rule.condition)}, not an object`);
      for (const [attr, values] of Object.entries(rule.condition)) {
        if (!attr || !Array.isArray(values) || !values.length || values.some((v) => typeof v !== 'string')) {
          throw new ChannelError(`${at}.condition.${attr} is ${show(values)}: an attribute name and a list of at least one string`);
        }
      }
    }
    let last = -Infinity;
    array(rule.ramp, `${at}.ramp`).forEach((step, j) => {
      const w = `${at}.ramp[${j}]`;
      if (!isObject(step)) throw new ChannelError(`${w} is ${show(step)}, not an object`);
      onlyFields(step, ['at', 'coverage'], w);
      const t = typeof step.at === 'string' ? Date.parse(step.at) : NaN;
      if (!Number.isFinite(t)) throw new ChannelError(`${w}.at is ${show(step.at)}, not a date-time`);
      if (t <= last) throw new ChannelError(`${w}.at ${step.at} is not after the step before it: steps must be sorted by time`);
      last = t;
      if (!unit(step.coverage)) throw new ChannelError(`${w}.coverage is ${show(step.coverage)}, not in [0, 1]`);
    });
    if (rule.ramp !== undefined && rule.kind !== 'rollout') throw new ChannelError(`${at} has a ramp, which only a "rollout" rule takes`);
    const arms = array(rule.arms, `${at}.arms`);
    const names = new Set();
    arms.forEach((arm, j) => {
      const w = `${at}.arms[${j}]`;
      if (!isObject(arm)) throw new ChannelError(`${w} is ${show(arm)}, not an object`);
      onlyFields(arm, ['name', 'version', 'weight'], w);
      if (typeof arm.name !== 'string' || !KEY.test(arm.name)) throw new ChannelError(`${w}.name is ${show(arm.name)}: use 1 to 64 of A-Z a-z 0-9 . _ -`);
      if (names.has(arm.name)) throw new ChannelError(`${w}.name ${arm.name} is used twice in the rule`);
      names.add(arm.name);
      published(channel, arm.version, `${w}.version`);
      if (typeof arm.weight !== 'number' || !(arm.weight > 0 && arm.weight <= 1)) {
        throw new ChannelError(`${w}.weight is ${show(arm.weight)}, not in (0, 1]`);
      }
    });
    if (rule.kind === 'rollout' && (arms.length !== 1 || arms[0].weight !== 1)) {
      throw new ChannelError(`${at} is a rollout: exactly one arm with weight 1 (it has ${arms.length})`);
    }
    if (rule.kind === 'rollout' && rule.coverage === undefined && !(Array.isArray(rule.ramp) && rule.ramp.length)) {
      throw new ChannelError(`${at} is a rollout: it needs a coverage or a ramp`);
    }
    if (rule.kind === 'experiment') {
      if (arms.length < 2 || arms.length > 10) throw new ChannelError(`${at} is an experiment: 2 to 10 arms (it has ${arms.length})`);
      const sum = arms.reduce((s, a) => s + a.weight, 0);
      if (Math.abs(sum - 1) > WEIGHT_TOLERANCE) throw new ChannelError(`${at}.arms' weights sum to ${sum}, not 1`);
    }
  });

  const shadowed = new Set();
  array(r.shadow, 'rollout.shadow').forEach((s, i) => {
    const at = `rollout.shadow[${i}]`;
    if (!isObject(s)) throw new ChannelError(`${at} is ${show(s)}, not an object`);
    onlyFields(s, ['alias', 'challenger', 'sampleRate'], at);
    knownAlias(s.alias, `${at}.alias`);
    published(channel, s.challenger, `${at}.challenger`);
    if (shadowed.has(`${s.alias}\n${s.challenger}`)) throw new ChannelError(`${at}.challenger ${s.challenger} is shadowed twice on alias "${s.alias}"`);
    shadowed.add(`${s.alias}\n${s.challenger}`);
    if (!unit(s.sampleRate)) throw new ChannelError(`${at}.sampleRate is ${show(s.sampleRate)}, not in [0, 1]`);
    if (channel.aliases?.[/** @type {string} */ (s.alias)] === s.challenger) throw new ChannelError(`${at}.challenger ${s.challenger} is what alias "${s.alias}" serves`);
  });

  array(r.interleave, 'rollout.interleave').forEach((il, i) => {
    const at = `rollout.interleave[${i}]`;
    if (!isObject(il)) throw new ChannelError(`${at} is ${show(il)}, not an object`);
    onlyFields(il, ['key', 'alias', 'arms'], at);
    uniqueKey(il.key, at);
    knownAlias(il.alias, `${at}.alias`);
    const arms = array(il.arms, `${at}.arms`);
    if (arms.length !== 2) throw new ChannelError(`${at} needs exactly 2 arms (it has ${arms.length})`);
    arms.forEach((arm, j) => {
      const w = `${at}.arms[${j}]`;
      if (!isObject(arm)) throw new ChannelError(`${w} is ${show(arm)}, not an object`);
      onlyFields(arm, ['name', 'version'], w);
      if (typeof arm.name !== 'string' || !KEY.test(arm.name)) throw new ChannelError(`${w}.name is ${show(arm.name)}: use 1 to 64 of A-Z a-z 0-9 . _ -`);
      published(channel, arm.version, `${w}.version`);
    });
    if (arms[0].name === arms[1].name) throw new ChannelError(`${at}'s arms share the name ${arms[0].name}`);
    if (arms[0].version === arms[1].version) throw new ChannelError(`${at}'s arms both run ${arms[0].version}: use two versions`);
  });
}

/** @param {AssignInput['now']} now */
function millis(now) {
  if (now === undefined) return Date.now();
  if (now instanceof Date) return now.getTime();
  return typeof now === 'string' ? Date.parse(now) : now;
}

/**
 * The coverage in force at `now`: the latest ramp step whose `at` <= now, else the rule's own
 * coverage, else nobody (rollout) or everybody (experiment).
 * @param {Rule} rule
 * @param {number} now
 */
export function coverageAt(rule, now) {
  const steps = (rule.ramp ?? []).filter((s) => Date.parse(s.at) <= now);
  if (steps.length) return steps[steps.length - 1].coverage;
  return rule.coverage ?? (rule.kind === 'rollout' ? 0 : 1);
}

/**
 * Whether the page's attributes meet a rule's condition: each listed attribute equals one of
 * its values (compared as strings, so `"1"` and `1` match).
 * @param {Rule['condition']} condition
 * @param {Record<string, unknown>} attributes
 */
function meets(condition, attributes) {
  if (!condition) return true;
  return Object.entries(condition).every(([attr, values]) =>
    Object.hasOwn(attributes, attr) && attributes[attr] !== undefined && attributes[attr] !== null &&
    values.some((v) => String(v) === String(attributes[attr])));
}

/** The sticky store key of a rule. @param {{ key: string, bucketVersion?: number }} rule */
export const stickyKey = (rule) => `${rule.key}__${rule.bucketVersion ?? 0}`;

/**
 * The version this unit is served for `alias`, and why. Validate the channel first.
 * @param {Channel} channel
 * @param {AssignInput} input
 * @returns {Assignment}
 */
export function assign(channel, { alias, id = null, attributes = {}, now, stored = {}, pin = null }) {
  const versions = Array.isArray(channel.versions) ? channel.versions : Object.values(channel.aliases ?? {});
  const base = { alias, rule: null, arm: null, bucket: null, bucketVersion: null };
  const aliasVersion = Object.hasOwn(channel.aliases ?? {}, alias) ? channel.aliases[alias] : undefined;
  if (typeof aliasVersion !== 'string') {
    throw new BurnEdgeError(`the channel has no alias "${alias}" (it has: ${Object.keys(channel.aliases ?? {}).join(', ')}); ` +
      'pass one of those as alias', { code: 'UNKNOWN_ALIAS' });
  }
  if (pin) {
    if (!versions.includes(pin)) {
      throw new BurnEdgeError(`the developer pin asks for version ${show(pin)}, which the channel does not publish ` +
        `(versions: ${versions.join(', ')}): pin a published version`, { code: 'PIN' });
    }
    return { ...base, version: pin, kind: 'pin' };
  }
  const rollout = channel.rollout;
  // The kill switch sends every page to stable (its own alias where the channel has no stable).
  if (rollout?.kill) return { ...base, version: typeof channel.aliases.stable === 'string' ? channel.aliases.stable : aliasVersion, kind: 'kill' };
  const t = millis(now);
  /** @type {Record<string, unknown>} */
  const attrs = { ...attributes, ...(id !== null && id !== undefined ? { id } : {}) };
  for (const rule of rollout?.rules ?? []) {
    if (rule.alias !== alias || !meets(rule.condition, attrs)) continue;
    const value = attrs[rule.hashAttribute ?? 'id'];
    if (value === undefined || value === null || value === '') continue;
    const key = String(value);
    const seed = rule.seed ?? rule.key;
    const n = hash(seed, key, rule.hashVersion ?? 2);
    const bucketVersion = rule.bucketVersion ?? 0;
    const result = (/** @type {Arm} */ arm) => /** @type {Assignment} */ ({ version: arm.version, alias, rule: rule.key, kind: rule.kind,
      arm: arm.name, bucket: n, bucketVersion });
    if (rule.kind === 'experiment') {
      // Sticky first (GrowthBook): a stored arm that still exists wins over the hash and skips the
      // namespace and coverage; arms stored under older bucketVersions are never looked up.
      const sticky = stored[stickyKey(rule)];
      const kept = sticky !== undefined ? rule.arms.find((a) => a.name === sticky) : undefined;
      if (kept) return result(kept);
      if (rule.namespace && !inNamespace(key, [rule.namespace.id, rule.namespace.range[0], rule.namespace.range[1]])) continue;
      if (n === null) continue;
      const ranges = getBucketRanges(rule.arms.length, rule.coverage ?? 1, rule.arms.map((a) => a.weight ?? 0));
      const index = chooseVariation(n, ranges);
      if (index >= 0) return result(rule.arms[index]);
      continue;
    }
    if (rule.namespace && !inNamespace(key, [rule.namespace.id, rule.namespace.range[0], rule.namespace.range[1]])) continue;
    if (n !== null && n < coverageAt(rule, t)) return result(rule.arms[0]);
  }
  return { ...base, version: aliasVersion, kind: 'alias' };
}

/**
 * The shadow rule for `alias` (none under kill), and the interleave rule.
 * @param {Channel} channel
 * @param {string} alias
 */
export function extras(channel, alias) {
  const r = channel.rollout;
  if (!r || r.kill) return { shadow: null, interleave: null };
  return {
    shadow: (r.shadow ?? []).find((s) => s.alias === alias) ?? null,
    interleave: (r.interleave ?? []).find((s) => s.alias === alias) ?? null,
  };
}
