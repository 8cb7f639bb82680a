// storaged RPC subset (NebulaGraph 3.x compatible), written for nebula-br,
// plus nebula-lite's own LiteStorageService (see the end of the file).

namespace go nebula.storage

include "common.thrift"

struct RequestCommon {
    1: optional common.SessionID       session_id,
    2: optional common.ExecutionPlanID plan_id,
    3: optional bool                   profile_detail,
}

struct PartitionResult {
    1: required common.ErrorCode   code,
    2: required common.PartitionID part_id,
    // set when code is E_LEADER_CHANGED
    3: optional common.HostAddr    leader,
}

struct ResponseCommon {
    // only the parts that failed
    1: required list<PartitionResult> failed_parts,
    2: required i64                   latency_in_us,
    3: optional map<string, i32>      latency_detail_us,
}

// Reply of data-modifying calls.
struct ExecResponse {
    1: required ResponseCommon result,
}

struct KVGetRequest {
    1: common.GraphSpaceID                   space_id,
    2: map<common.PartitionID, list<binary>> parts,
    // return the keys that exist instead of failing on missing ones
    3: bool                                  return_partly,
}

struct KVGetResponse {
    1: required ResponseCommon result,
    2: map<binary, binary>     key_values,
}

struct KVPutRequest {
    1: common.GraphSpaceID                            space_id,
    2: map<common.PartitionID, list<common.KeyValue>> parts,
}

struct KVRemoveRequest {
    1: common.GraphSpaceID                   space_id,
    2: map<common.PartitionID, list<binary>> parts,
}

struct CreateCPRequest {
    1: list<common.GraphSpaceID> space_ids,
    2: binary                    name,
    // nebula-lite's addition (NebulaGraph's storaged skips it): an
    // incremental backup's cut, which takes only the parts' WAL, not the
    // data.
    100: optional bool           wal_only,
}

struct CreateCPResp {
    1: common.ErrorCode            code,
    2: list<common.CheckpointInfo> info,
}

struct DropCPRequest {
    1: list<common.GraphSpaceID> space_ids,
    2: binary                    name,
}

struct DropCPResp {
    1: common.ErrorCode code,
}

enum EngineSignType {
    BLOCK_ON  = 1,
    BLOCK_OFF = 2,
}

struct BlockingSignRequest {
    1: list<common.GraphSpaceID> space_ids,
    2: required EngineSignType   sign,
    // nebula-lite's addition, as CreateCPRequest's: the cut to follow takes
    // only the WAL, so BLOCK_ON does not flush the memtable first.
    100: optional bool           wal_only,
    // nebula-lite's addition: with BLOCK_ON, only what BLOCK_ON does before
    // blocking (flush the memtable, fsync the WAL), writes still flowing:
    // metad's first round, so that no host blocked early waits for another
    // host's flush.
    101: optional bool           prepare_only,
}

struct BlockingSignResp {
    1: common.ErrorCode code,
}

// Hand a part's leadership to another replica (metad's leader balance).
struct TransLeaderReq {
    1: common.GraphSpaceID space_id,
    2: common.PartitionID  part_id,
    3: common.HostAddr     new_leader,
}

struct AdminExecResp {
    1: ResponseCommon result,
}

// Checkpoint/blocking/leader subset of storaged's admin service (metad -> storaged).
service StorageAdminService {
    AdminExecResp    transLeader(1: TransLeaderReq req);
    CreateCPResp     createCheckpoint(1: CreateCPRequest req);
    DropCPResp       dropCheckpoint(1: DropCPRequest req);
    BlockingSignResp blockingWrites(1: BlockingSignRequest req);
}

// ---------------------------------------------------------------------------
// NOT part of NebulaGraph. nebula-lite's internal graphd -> storaged data
// calls: a raw, partitioned key/value interface. Real NebulaGraph clients
// never call it; it reuses the upstream response shapes so failed parts are
// reported the same way.
// ---------------------------------------------------------------------------

// Mutations for one partition, applied atomically: removes first, then puts.
struct LiteBatch {
    1: list<common.KeyValue> puts,
    2: list<binary>          removes,
}

struct LiteWriteRequest {
    1: common.GraphSpaceID                space_id,
    2: map<common.PartitionID, LiteBatch> parts,
}

// Ordered scan of one partition: keys with prefix, strictly after
// start_after (empty = from the beginning), at most limit keys (<= 0 lets
// the server choose).
struct LiteScanRequest {
    1: common.GraphSpaceID space_id,
    2: common.PartitionID  part_id,
    3: binary              prefix,
    4: binary              start_after,
    5: i32                 limit,
}

struct LiteScanResponse {
    1: ResponseCommon        result,
    2: list<common.KeyValue> kvs,
    // more keys match; continue with start_after = last key
    3: bool                  has_next,
}

service LiteStorageService {
    ExecResponse     write(1: LiteWriteRequest req);
    KVGetResponse    get(1: KVGetRequest req);
    LiteScanResponse scan(1: LiteScanRequest req);
}
