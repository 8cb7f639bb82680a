// metad RPC subset (NebulaGraph 3.x compatible), written for nebula-br.
//
// Only the calls backup/restore, the operator and nebula-lite need are
// declared. Every struct, field id, type and enum value matches
// NebulaGraph 3.x so real clients/servers interoperate.

namespace go nebula.meta

include "common.thrift"

typedef i64 SchemaVer
typedef i64 ClusterID

union ID {
    1: common.GraphSpaceID space_id,
    2: common.TagID        tag_id,
    3: common.EdgeType     edge_type,
    4: common.IndexID      index_id,
    5: ClusterID           cluster_id,
}

enum GeoShape {
    ANY        = 0,
    POINT      = 1,
    LINESTRING = 2,
    POLYGON    = 3,
}

struct ColumnTypeDef {
    1: required common.PropertyType type,
    // only meaningful for FIXED_STRING
    2: optional i16                 type_length = 0,
    // only meaningful for GEOGRAPHY
    3: optional GeoShape            geo_shape,
}

struct ColumnDef {
    1: required binary        name,
    2: required ColumnTypeDef type,
    3: optional binary        default_value,
    4: optional bool          nullable = false,
    5: optional binary        comment,
}

struct SchemaProp {
    1: optional i64    ttl_duration,
    2: optional binary ttl_col,
    3: optional binary comment,
}

struct Schema {
    1: list<ColumnDef> columns,
    2: SchemaProp      schema_prop,
}

struct IdName {
    1: ID     id,
    2: binary name,
}

enum IsolationLevel {
    DEFAULT = 0,
    TOSS    = 1,
}

struct SpaceDesc {
    1: binary                  space_name,
    2: i32                     partition_num = 0,
    3: i32                     replica_factor = 0,
    4: binary                  charset_name,
    5: binary                  collate_name,
    6: ColumnTypeDef           vid_type = {"type": common.PropertyType.FIXED_STRING, "type_length": 8},
    7: list<binary>            zone_names,
    8: optional IsolationLevel isolation_level,
    9: optional binary         comment,
}

struct SpaceItem {
    1: common.GraphSpaceID space_id,
    2: SpaceDesc           properties,
}

struct TagItem {
    1: common.TagID tag_id,
    2: binary       tag_name,
    3: SchemaVer    version,
    4: Schema       schema,
}

struct EdgeItem {
    1: common.EdgeType edge_type,
    2: binary          edge_name,
    3: SchemaVer       version,
    4: Schema          schema,
}

enum HostStatus {
    ONLINE  = 0,
    OFFLINE = 1,
    UNKNOWN = 2,
}

enum SnapshotStatus {
    VALID   = 0,
    INVALID = 1,
}

enum HostRole {
    GRAPH            = 0,
    META             = 1,
    STORAGE          = 2,
    STORAGE_LISTENER = 3,
    AGENT            = 4,
    UNKNOWN          = 5,
}

struct HostItem {
    1: common.HostAddr                         hostAddr,
    2: HostStatus                              status,
    // space name -> leader parts on this host
    3: map<binary, list<common.PartitionID>>   leader_parts,
    // space name -> all parts on this host
    4: map<binary, list<common.PartitionID>>   all_parts,
    5: HostRole                                role,
    6: binary                                  git_info_sha,
    7: optional binary                         zone_name,
    8: optional binary                         version,
}

// Generic reply of mutating calls.
struct ExecResp {
    1: common.ErrorCode code,
    2: ID               id,
    // set when code is E_LEADER_CHANGED
    3: common.HostAddr  leader,
}

struct CreateSpaceReq {
    1: SpaceDesc properties,
    2: bool      if_not_exists,
}

struct DropSpaceReq {
    1: binary space_name,
    2: bool   if_exists,
}

struct ListSpacesReq {
}

struct ListSpacesResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: list<IdName>     spaces,
}

struct GetSpaceReq {
    1: binary space_name,
}

struct GetSpaceResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: SpaceItem        item,
}

struct CreateTagReq {
    1: common.GraphSpaceID space_id,
    2: binary              tag_name,
    3: Schema              schema,
    4: bool                if_not_exists,
}

struct DropTagReq {
    1: common.GraphSpaceID space_id,
    2: binary              tag_name,
    3: bool                if_exists,
}

struct ListTagsReq {
    1: common.GraphSpaceID space_id,
}

struct ListTagsResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: list<TagItem>    tags,
}

struct GetTagReq {
    1: common.GraphSpaceID space_id,
    2: binary              tag_name,
    // negative means the latest version
    3: SchemaVer           version,
}

struct GetTagResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: Schema           schema,
}

struct CreateEdgeReq {
    1: common.GraphSpaceID space_id,
    2: binary              edge_name,
    3: Schema              schema,
    4: bool                if_not_exists,
}

struct GetEdgeReq {
    1: common.GraphSpaceID space_id,
    2: binary              edge_name,
    3: SchemaVer           version,
}

struct GetEdgeResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: Schema           schema,
}

struct DropEdgeReq {
    1: common.GraphSpaceID space_id,
    2: binary              edge_name,
    3: bool                if_exists,
}

struct ListEdgesReq {
    1: common.GraphSpaceID space_id,
}

struct ListEdgesResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: list<EdgeItem>   edges,
}

enum ListHostType {
    ALLOC            = 0,
    GRAPH            = 1,
    META             = 2,
    STORAGE          = 3,
    AGENT            = 4,
    STORAGE_LISTENER = 5,
}

struct ListHostsReq {
    1: ListHostType type,
}

struct ListHostsResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: list<HostItem>   hosts,
}

struct PartItem {
    1: required common.PartitionID    part_id,
    2: optional common.HostAddr       leader,
    3: required list<common.HostAddr> peers,
    4: required list<common.HostAddr> losts,
}

struct ListPartsReq {
    1: common.GraphSpaceID      space_id,
    2: list<common.PartitionID> part_ids,
}

struct ListPartsResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: list<PartItem>   parts,
}

struct GetPartsAllocReq {
    1: common.GraphSpaceID space_id,
}

struct GetPartsAllocResp {
    1: common.ErrorCode                                    code,
    2: common.HostAddr                                     leader,
    3: map<common.PartitionID, list<common.HostAddr>>      parts,
    4: optional map<common.PartitionID, i64>               terms,
}

struct HBResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: ClusterID        cluster_id,
    4: i64              last_update_time_in_ms,
    5: i32              meta_version,
}

struct LeaderInfo {
    1: common.PartitionID part_id,
    2: i64                term,
}

struct PartitionList {
    1: list<common.PartitionID> part_list,
}

struct HBReq {
    1: HostRole                                                    role,
    2: common.HostAddr                                             host,
    3: ClusterID                                                   cluster_id,
    4: optional map<common.GraphSpaceID, list<LeaderInfo>>         leader_partIds,
    5: binary                                                      git_info_sha,
    // space -> data path -> parts stored there
    6: optional map<common.GraphSpaceID, map<binary, PartitionList>> disk_parts,
    7: optional common.DirInfo                                     dir,
    8: optional binary                                             version,
}

// One process (agent/metad/storaged/graphd) on a host.
struct ServiceInfo {
    1: common.DirInfo  dir,
    2: common.HostAddr addr,
    3: HostRole        role,
}

struct AgentHBReq {
    1: common.HostAddr host,
    2: binary          git_info_sha,
    3: optional binary version,
}

struct AgentHBResp {
    1: common.ErrorCode  code,
    2: common.HostAddr   leader,
    // the other services on the agent's host, agent itself excluded
    3: list<ServiceInfo> service_list,
}

struct DropSnapshotReq {
    1: list<binary> names,
}

struct ListSnapshotsReq {
}

struct Snapshot {
    1: binary         name,
    2: SnapshotStatus status,
    3: binary         hosts,
}

struct ListSnapshotsResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: list<Snapshot>   snapshots,
}

struct HostBackupInfo {
    1: common.HostAddr             host,
    // one per storage data path
    2: list<common.CheckpointInfo> checkpoints,
}

struct SpaceBackupInfo {
    1: SpaceDesc            space,
    2: list<HostBackupInfo> host_backups,
}

// The backup manifest metad returns and br stores alongside the data.
struct BackupMeta {
    1: map<common.GraphSpaceID, SpaceBackupInfo> space_backups,
    // meta sst files
    2: list<binary>                              meta_files,
    3: binary                                    backup_name,
    4: bool                                      full,
    5: bool                                      all_spaces,
    6: i64                                       create_time,
    7: binary                                    base_backup_name,
    8: list<common.HostAddr>                     storage_hosts,
    9: ClusterID                                 cluster_id,
}

struct CreateBackupReq {
    // unset means all spaces
    1: optional list<binary> spaces,
    // unset means a full backup
    2: optional binary       base_backup_name,
    3: optional ClusterID    cluster_id,
}

struct CreateBackupResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: BackupMeta       meta,
}

struct HostPair {
    1: common.HostAddr from_host,
    2: common.HostAddr to_host,
}

struct PartInfo {
    1: common.PartitionID    part_id,
    2: list<common.HostAddr> hosts,
}

struct RestoreMetaReq {
    1: list<binary>   files,
    2: list<HostPair> hosts,
    // nebula-lite's addition (upstream's metad skips it): each space's
    // parts placed on the target's hosts as given, instead of through the
    // host pairs, for a restore into another number of storage hosts.
    100: optional map<common.GraphSpaceID, list<PartInfo>> (cpp.template = "std::unordered_map") placement,
}

struct RestoreMetaResp {
    1: common.ErrorCode                         code,
    2: common.HostAddr                          leader,
    3: map<common.GraphSpaceID, list<PartInfo>> part_hosts,
}

struct ListClusterInfoResp {
    1: common.ErrorCode                 code,
    2: common.HostAddr                  leader,
    // host -> services running there
    3: map<string, list<ServiceInfo>>   host_services,
}

struct ListClusterInfoReq {
}

struct GetMetaDirInfoResp {
    1: common.ErrorCode code,
    2: common.DirInfo   dir,
}

struct GetMetaDirInfoReq {
}

struct VerifyClientVersionResp {
    1: common.ErrorCode code,
    2: common.HostAddr  leader,
    3: optional binary  error_msg,
}

struct VerifyClientVersionReq {
    1: required binary client_version = common.version,
    2: common.HostAddr host,
    3: binary          build_version,
}

// BALANCE LEADER: spread part leaders evenly over the storage hosts.
struct LeaderBalanceReq {
}

service MetaService {
    ExecResp       leaderBalance(1: LeaderBalanceReq req);
    ExecResp       createSpace(1: CreateSpaceReq req);
    ExecResp       dropSpace(1: DropSpaceReq req);
    GetSpaceResp   getSpace(1: GetSpaceReq req);
    ListSpacesResp listSpaces(1: ListSpacesReq req);

    ExecResp     createTag(1: CreateTagReq req);
    ExecResp     dropTag(1: DropTagReq req);
    GetTagResp   getTag(1: GetTagReq req);
    ListTagsResp listTags(1: ListTagsReq req);

    ExecResp      createEdge(1: CreateEdgeReq req);
    ExecResp      dropEdge(1: DropEdgeReq req);
    GetEdgeResp   getEdge(1: GetEdgeReq req);
    ListEdgesResp listEdges(1: ListEdgesReq req);

    ListHostsResp     listHosts(1: ListHostsReq req);
    GetPartsAllocResp getPartsAlloc(1: GetPartsAllocReq req);
    ListPartsResp     listParts(1: ListPartsReq req);

    HBResp      heartBeat(1: HBReq req);
    AgentHBResp agentHeartbeat(1: AgentHBReq req);

    ExecResp          dropSnapshot(1: DropSnapshotReq req);
    ListSnapshotsResp listSnapshots(1: ListSnapshotsReq req);

    CreateBackupResp    createBackup(1: CreateBackupReq req);
    RestoreMetaResp     restoreMeta(1: RestoreMetaReq req);
    ListClusterInfoResp listCluster(1: ListClusterInfoReq req);
    GetMetaDirInfoResp  getMetaDirInfo(1: GetMetaDirInfoReq req);

    VerifyClientVersionResp verifyClientVersion(1: VerifyClientVersionReq req);
}
