/**
 * Every limit a front door enforces, defined once. Units come last in each name. The numbers
 * are Pinecone's documented limits (see the brief's pinecone-api.md) so that code written
 * against Pinecone meets the same walls here; HTTP, NATS and the embedded library all read
 * them from this file.
 */

/** Records in one upsert request. */
export const recordsPerUpsertMin = 1;
export const recordsPerUpsertMax = 1000;
/** Body of one upsert request (HTTP and NATS measure the raw body). */
export const upsertBytesMax = 2 * 1024 * 1024;

/** Dense vector length; also the index dimension. */
export const dimensionMin = 1;
export const dimensionMax = 20_000;

/**
 * Largest magnitude of a dense or sparse component on dotproduct and euclidean indexes, so no
 * score overflows float32 (the arithmetic is in ffi/score-range.ts). Cosine takes any finite
 * value: it has a direction for every non-zero vector.
 */
export { componentMagnitudeMax as vectorComponentMagnitudeMax } from "../../ffi/score-range.ts";

/** Non-zero entries in one sparse vector. */
export const sparseEntriesMin = 1;
export const sparseEntriesMax = 2048;
/** Sparse indices are uint32. */
export const sparseIndexMax = 0xffff_ffff;

/** Record ids: ASCII characters. */
export const idCharsMin = 1;
export const idCharsMax = 512;

/** Metadata of one record, measured as the UTF-8 byte length of its JSON text (defined in storage/, where updates check it too). */
export { metadataBytesMax } from "../../storage/metadata.ts";

/** Matches one query returns. */
export const topKMin = 1;
export const topKMax = 10_000;
/**
 * Needle's per-query search effort (a multiple of each indexed slab's calibrated probes):
 * below 0.1 a slab would probe almost nothing; above 100 every partition is probed anyway.
 */
export const searchEffortMin = 0.1;
export const searchEffortMax = 100;
/**
 * Pinecone's query result limit (4 MB): over HTTP a query whose matches would be larger is
 * refused naming topK, and a fetch-by-metadata page ends early with a pagination token.
 */
export const queryResultBytesMax = 4 * 1024 * 1024;

/** Ids in one fetch or delete-by-ids request. */
export const idsPerRequestMax = 1000;

/** Page size of list (record ids). */
export const listLimitMin = 1;
export const listLimitMax = 100;
export const listLimitDefault = 100;

/** Page size of fetch-by-metadata. */
export const fetchByMetadataLimitMin = 1;
export const fetchByMetadataLimitMax = 10_000;
export const fetchByMetadataLimitDefault = 100;

/** Page size of the namespace list. */
export const namespaceListLimitMin = 1;
export const namespaceListLimitMax = 100;
export const namespaceListLimitDefault = 100;

/** A namespace schema (createNamespace): fields listed, and a field name's length (Needle's own caps; Pinecone documents none). */
export const namespaceSchemaFieldsMax = 1000;
export const namespaceSchemaFieldCharsMax = 512;

/** Namespace names: ASCII, no NUL. "" is allowed and means the default namespace. */
export const namespaceCharsMax = 512;
export const defaultNamespace = "__default__";

/** Index names: lowercase alphanumerics and '-', starting and ending alphanumeric. */
export const indexNameCharsMin = 1;
export const indexNameCharsMax = 45;

/** Index tags (Pinecone's control-plane OpenAPI: keys <= 80, values <= 120 characters). */
export const tagsPerIndexMax = 20;
export const tagKeyCharsMax = 80;
export const tagValueCharsMax = 120;

/**
 * Dedicated read capacity: replicas are executors holding the index (one in the embedded
 * mode; more once the distributed mode lands); Needle does not shard, so shards is 1.
 */
export const dedicatedReplicasMax = 20;
export const dedicatedShardsMax = 1;

/** Pod specs (2026-04): Needle's caps on the sizing it echoes; Pinecone documents none. */
export const podReplicasMax = 20;
export const podShardsMax = 64;
export const podCountMax = podReplicasMax * podShardsMax;
/** A pod index's metadataConfig.indexed: fields listed. */
export const metadataIndexedFieldsMax = 1000;

/** Pagination tokens are opaque; bound them so a hostile token cannot cost much. */
export const paginationTokenCharsMax = 1024;
