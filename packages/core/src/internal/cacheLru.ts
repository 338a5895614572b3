/**
 * The synchronous core of the L1 cache: a `Map` of nodes of a doubly linked
 * list in recency order, per-entry expiry, entry and byte bounds, and
 * plain counters that the metrics read when they are exported. Nothing here
 * allocates an effect, so a hit costs one `Map` lookup and two pointer swaps.
 *
 * @internal
 */

/** @internal */
export interface Entry<V> {
  readonly value: V
  readonly expiresAt: number
  readonly size: number
  readonly tags: ReadonlyArray<string>
}

/** @internal */
export interface Counters {
  hits: number
  misses: number
  evictions: number
  expirations: number
}

const noTags: ReadonlyArray<string> = []

interface Node<K, V> extends Entry<V> {
  readonly key: K
  prev: Node<K, V> | undefined
  next: Node<K, V> | undefined
}

/** @internal */
export class Lru<K, V> {
  readonly map = new Map<K, Node<K, V>>()
  readonly maxEntries: number
  readonly maxBytes: number
  readonly now: () => number
  readonly counters: Counters = { hits: 0, misses: 0, evictions: 0, expirations: 0 }
  bytes = 0
  // A doubly linked list in recency order: `head` is the least recently used.
  // Moving a node is two pointer swaps, much cheaper than a `Map` re-insert.
  private head: Node<K, V> | undefined = undefined
  private tail: Node<K, V> | undefined = undefined

  constructor(maxEntries: number, maxBytes: number, now: () => number) {
    this.maxEntries = maxEntries
    this.maxBytes = maxBytes
    this.now = now
  }

  /** The live entry of `key`, made most recent; counts a hit or a miss. */
  get(key: K): Entry<V> | undefined {
    const node = this.map.get(key)
    if (node === undefined) {
      this.counters.misses++
      return undefined
    }
    if (node.expiresAt !== Infinity && node.expiresAt <= this.now()) {
      this.remove(node)
      this.counters.expirations++
      this.counters.misses++
      return undefined
    }
    if (node !== this.tail) {
      this.unlink(node)
      this.append(node)
    }
    this.counters.hits++
    return node
  }

  /**
   * Stores `value` as the most recent entry, then evicts least recent entries
   * until both bounds hold. A non-positive TTL or a value larger than the
   * byte bound stores nothing (and drops the previous value of the key).
   */
  set(key: K, value: V, ttlMillis: number, size: number, tags: ReadonlyArray<string> = noTags): void {
    const old = this.map.get(key)
    if (old !== undefined) this.remove(old)
    if (!(ttlMillis > 0) || size > this.maxBytes) return
    const expiresAt = ttlMillis === Infinity ? Infinity : this.now() + ttlMillis
    const node: Node<K, V> = { key, value, expiresAt, size, tags, prev: undefined, next: undefined }
    this.map.set(key, node)
    this.append(node)
    this.bytes += size
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const lru = this.head!
      this.remove(lru)
      if (lru.expiresAt !== Infinity && lru.expiresAt <= this.now()) this.counters.expirations++
      else this.counters.evictions++
    }
  }

  delete(key: K): boolean {
    const node = this.map.get(key)
    if (node === undefined) return false
    this.remove(node)
    return true
  }

  deleteWhere(predicate: (key: K, tags: ReadonlyArray<string>) => boolean): number {
    let deleted = 0
    let node = this.head
    while (node !== undefined) {
      const next = node.next
      if (predicate(node.key, node.tags)) {
        this.remove(node)
        deleted++
      }
      node = next
    }
    return deleted
  }

  clear(): void {
    this.map.clear()
    this.head = undefined
    this.tail = undefined
    this.bytes = 0
  }

  private append(node: Node<K, V>): void {
    node.prev = this.tail
    node.next = undefined
    if (this.tail === undefined) this.head = node
    else this.tail.next = node
    this.tail = node
  }

  private unlink(node: Node<K, V>): void {
    if (node.prev === undefined) this.head = node.next
    else node.prev.next = node.next
    if (node.next === undefined) this.tail = node.prev
    else node.next.prev = node.prev
  }

  private remove(node: Node<K, V>): void {
    this.map.delete(node.key)
    this.unlink(node)
    this.bytes -= node.size
  }
}
