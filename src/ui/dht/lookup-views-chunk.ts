// One lazily loaded chunk: the keyspace ring and the lookup list with its trace views.
export { KeyspaceRing } from './keyspace-ring.tsx'
export { QueryList } from './query-list.tsx'
