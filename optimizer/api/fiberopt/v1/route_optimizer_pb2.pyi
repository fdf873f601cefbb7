from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Diversity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIVERSITY_UNSPECIFIED: _ClassVar[Diversity]
    DIVERSITY_EDGE: _ClassVar[Diversity]
    DIVERSITY_NODE: _ClassVar[Diversity]
    DIVERSITY_SRLG: _ClassVar[Diversity]

class DiversityFallback(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIVERSITY_FALLBACK_STRICT: _ClassVar[DiversityFallback]
    DIVERSITY_FALLBACK_LEAST_SHARED: _ClassVar[DiversityFallback]

class RouteStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTE_STATUS_UNSPECIFIED: _ClassVar[RouteStatus]
    ROUTE_STATUS_OPTIMAL: _ClassVar[RouteStatus]
    ROUTE_STATUS_FEASIBLE: _ClassVar[RouteStatus]
    ROUTE_STATUS_INFEASIBLE: _ClassVar[RouteStatus]
    ROUTE_STATUS_UNSOLVED: _ClassVar[RouteStatus]

class Phase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_UNSPECIFIED: _ClassVar[Phase]
    PHASE_GRAPH: _ClassVar[Phase]
    PHASE_SOLVE: _ClassVar[Phase]
    PHASE_DONE: _ClassVar[Phase]
DIVERSITY_UNSPECIFIED: Diversity
DIVERSITY_EDGE: Diversity
DIVERSITY_NODE: Diversity
DIVERSITY_SRLG: Diversity
DIVERSITY_FALLBACK_STRICT: DiversityFallback
DIVERSITY_FALLBACK_LEAST_SHARED: DiversityFallback
ROUTE_STATUS_UNSPECIFIED: RouteStatus
ROUTE_STATUS_OPTIMAL: RouteStatus
ROUTE_STATUS_FEASIBLE: RouteStatus
ROUTE_STATUS_INFEASIBLE: RouteStatus
ROUTE_STATUS_UNSOLVED: RouteStatus
PHASE_UNSPECIFIED: Phase
PHASE_GRAPH: Phase
PHASE_SOLVE: Phase
PHASE_DONE: Phase

class LayerSource(_message.Message):
    __slots__ = ("layer", "path", "layer_name", "fields", "defaults", "x_field", "y_field", "crs", "where", "on_invalid")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LAYER_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LAYER_NAME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_FIELD_NUMBER: _ClassVar[int]
    CRS_FIELD_NUMBER: _ClassVar[int]
    WHERE_FIELD_NUMBER: _ClassVar[int]
    ON_INVALID_FIELD_NUMBER: _ClassVar[int]
    layer: str
    path: str
    layer_name: str
    fields: _containers.ScalarMap[str, str]
    defaults: _struct_pb2.Struct
    x_field: str
    y_field: str
    crs: str
    where: str
    on_invalid: str
    def __init__(self, layer: _Optional[str] = ..., path: _Optional[str] = ..., layer_name: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ..., defaults: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., x_field: _Optional[str] = ..., y_field: _Optional[str] = ..., crs: _Optional[str] = ..., where: _Optional[str] = ..., on_invalid: _Optional[str] = ...) -> None: ...

class GraphSettings(_message.Message):
    __slots__ = ("snap_tolerance_m", "gap_km", "max_lateral_km", "laterals_per_site", "lateral_cost_per_km", "lateral_route_factor", "group_index", "slack_factor", "min_entry_m", "counted_levels", "uncovered", "coverage_levels")
    SNAP_TOLERANCE_M_FIELD_NUMBER: _ClassVar[int]
    GAP_KM_FIELD_NUMBER: _ClassVar[int]
    MAX_LATERAL_KM_FIELD_NUMBER: _ClassVar[int]
    LATERALS_PER_SITE_FIELD_NUMBER: _ClassVar[int]
    LATERAL_COST_PER_KM_FIELD_NUMBER: _ClassVar[int]
    LATERAL_ROUTE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    GROUP_INDEX_FIELD_NUMBER: _ClassVar[int]
    SLACK_FACTOR_FIELD_NUMBER: _ClassVar[int]
    MIN_ENTRY_M_FIELD_NUMBER: _ClassVar[int]
    COUNTED_LEVELS_FIELD_NUMBER: _ClassVar[int]
    UNCOVERED_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_LEVELS_FIELD_NUMBER: _ClassVar[int]
    snap_tolerance_m: float
    gap_km: float
    max_lateral_km: float
    laterals_per_site: int
    lateral_cost_per_km: float
    lateral_route_factor: float
    group_index: float
    slack_factor: float
    min_entry_m: float
    counted_levels: _containers.RepeatedScalarFieldContainer[str]
    uncovered: str
    coverage_levels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, snap_tolerance_m: _Optional[float] = ..., gap_km: _Optional[float] = ..., max_lateral_km: _Optional[float] = ..., laterals_per_site: _Optional[int] = ..., lateral_cost_per_km: _Optional[float] = ..., lateral_route_factor: _Optional[float] = ..., group_index: _Optional[float] = ..., slack_factor: _Optional[float] = ..., min_entry_m: _Optional[float] = ..., counted_levels: _Optional[_Iterable[str]] = ..., uncovered: _Optional[str] = ..., coverage_levels: _Optional[_Iterable[str]] = ...) -> None: ...

class LoadNetworkRequest(_message.Message):
    __slots__ = ("name", "inline_data", "layers", "cost_per_km_by_kind", "permit_cost_by_level", "settings", "display_name")
    class CostPerKmByKindEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class PermitCostByLevelEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    INLINE_DATA_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    COST_PER_KM_BY_KIND_FIELD_NUMBER: _ClassVar[int]
    PERMIT_COST_BY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    inline_data: bytes
    layers: _containers.RepeatedCompositeFieldContainer[LayerSource]
    cost_per_km_by_kind: _containers.ScalarMap[str, float]
    permit_cost_by_level: _containers.ScalarMap[str, float]
    settings: GraphSettings
    display_name: str
    def __init__(self, name: _Optional[str] = ..., inline_data: _Optional[bytes] = ..., layers: _Optional[_Iterable[_Union[LayerSource, _Mapping]]] = ..., cost_per_km_by_kind: _Optional[_Mapping[str, float]] = ..., permit_cost_by_level: _Optional[_Mapping[str, float]] = ..., settings: _Optional[_Union[GraphSettings, _Mapping]] = ..., display_name: _Optional[str] = ...) -> None: ...

class GraphStats(_message.Message):
    __slots__ = ("nodes", "edges", "components", "km_total", "km_by_kind", "laterals", "lateral_km", "connectors", "connector_km", "edges_excluded", "unreachable_sites", "build_s", "edges_uncovered", "uncovered_km")
    class KmByKindEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    KM_TOTAL_FIELD_NUMBER: _ClassVar[int]
    KM_BY_KIND_FIELD_NUMBER: _ClassVar[int]
    LATERALS_FIELD_NUMBER: _ClassVar[int]
    LATERAL_KM_FIELD_NUMBER: _ClassVar[int]
    CONNECTORS_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_KM_FIELD_NUMBER: _ClassVar[int]
    EDGES_EXCLUDED_FIELD_NUMBER: _ClassVar[int]
    UNREACHABLE_SITES_FIELD_NUMBER: _ClassVar[int]
    BUILD_S_FIELD_NUMBER: _ClassVar[int]
    EDGES_UNCOVERED_FIELD_NUMBER: _ClassVar[int]
    UNCOVERED_KM_FIELD_NUMBER: _ClassVar[int]
    nodes: int
    edges: int
    components: int
    km_total: float
    km_by_kind: _containers.ScalarMap[str, float]
    laterals: int
    lateral_km: float
    connectors: int
    connector_km: float
    edges_excluded: int
    unreachable_sites: int
    build_s: float
    edges_uncovered: int
    uncovered_km: float
    def __init__(self, nodes: _Optional[int] = ..., edges: _Optional[int] = ..., components: _Optional[int] = ..., km_total: _Optional[float] = ..., km_by_kind: _Optional[_Mapping[str, float]] = ..., laterals: _Optional[int] = ..., lateral_km: _Optional[float] = ..., connectors: _Optional[int] = ..., connector_km: _Optional[float] = ..., edges_excluded: _Optional[int] = ..., unreachable_sites: _Optional[int] = ..., build_s: _Optional[float] = ..., edges_uncovered: _Optional[int] = ..., uncovered_km: _Optional[float] = ...) -> None: ...

class Site(_message.Message):
    __slots__ = ("site_id", "name", "lon", "lat", "reachable", "reason")
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LON_FIELD_NUMBER: _ClassVar[int]
    LAT_FIELD_NUMBER: _ClassVar[int]
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    site_id: str
    name: str
    lon: float
    lat: float
    reachable: bool
    reason: str
    def __init__(self, site_id: _Optional[str] = ..., name: _Optional[str] = ..., lon: _Optional[float] = ..., lat: _Optional[float] = ..., reachable: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class NetworkInfo(_message.Message):
    __slots__ = ("network_id", "name", "stats", "sites", "levels", "repairs")
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    SITES_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    REPAIRS_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    name: str
    stats: GraphStats
    sites: _containers.RepeatedCompositeFieldContainer[Site]
    levels: _containers.RepeatedScalarFieldContainer[str]
    repairs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, network_id: _Optional[str] = ..., name: _Optional[str] = ..., stats: _Optional[_Union[GraphStats, _Mapping]] = ..., sites: _Optional[_Iterable[_Union[Site, _Mapping]]] = ..., levels: _Optional[_Iterable[str]] = ..., repairs: _Optional[_Iterable[str]] = ...) -> None: ...

class ListNetworksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNetworksResponse(_message.Message):
    __slots__ = ("networks",)
    NETWORKS_FIELD_NUMBER: _ClassVar[int]
    networks: _containers.RepeatedCompositeFieldContainer[NetworkInfo]
    def __init__(self, networks: _Optional[_Iterable[_Union[NetworkInfo, _Mapping]]] = ...) -> None: ...

class GetNetworkRequest(_message.Message):
    __slots__ = ("network_id",)
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    def __init__(self, network_id: _Optional[str] = ...) -> None: ...

class Demand(_message.Message):
    __slots__ = ("id", "a", "b", "max_latency_ms", "paths", "diversity", "max_jurisdictions", "max_cost", "allowed_jurisdictions", "avoid_jurisdictions", "min_separation_km", "endpoint_radius_km", "exclude_corridors", "exclude_srlgs", "avoid_areas_geojson", "within_areas_geojson", "diverse_from_corridors", "diverse_from_srlgs", "diverse_from_lines_geojson", "via", "via_any_order", "diversity_fallback", "diverse_from_demand", "avoid_area_ids", "within_area_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    MAX_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    DIVERSITY_FIELD_NUMBER: _ClassVar[int]
    MAX_JURISDICTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_COST_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_JURISDICTIONS_FIELD_NUMBER: _ClassVar[int]
    AVOID_JURISDICTIONS_FIELD_NUMBER: _ClassVar[int]
    MIN_SEPARATION_KM_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_RADIUS_KM_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_CORRIDORS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_SRLGS_FIELD_NUMBER: _ClassVar[int]
    AVOID_AREAS_GEOJSON_FIELD_NUMBER: _ClassVar[int]
    WITHIN_AREAS_GEOJSON_FIELD_NUMBER: _ClassVar[int]
    DIVERSE_FROM_CORRIDORS_FIELD_NUMBER: _ClassVar[int]
    DIVERSE_FROM_SRLGS_FIELD_NUMBER: _ClassVar[int]
    DIVERSE_FROM_LINES_GEOJSON_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    VIA_ANY_ORDER_FIELD_NUMBER: _ClassVar[int]
    DIVERSITY_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    DIVERSE_FROM_DEMAND_FIELD_NUMBER: _ClassVar[int]
    AVOID_AREA_IDS_FIELD_NUMBER: _ClassVar[int]
    WITHIN_AREA_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    a: str
    b: str
    max_latency_ms: float
    paths: int
    diversity: Diversity
    max_jurisdictions: int
    max_cost: float
    allowed_jurisdictions: _containers.RepeatedScalarFieldContainer[str]
    avoid_jurisdictions: _containers.RepeatedScalarFieldContainer[str]
    min_separation_km: float
    endpoint_radius_km: float
    exclude_corridors: _containers.RepeatedScalarFieldContainer[str]
    exclude_srlgs: _containers.RepeatedScalarFieldContainer[str]
    avoid_areas_geojson: _containers.RepeatedScalarFieldContainer[str]
    within_areas_geojson: _containers.RepeatedScalarFieldContainer[str]
    diverse_from_corridors: _containers.RepeatedScalarFieldContainer[str]
    diverse_from_srlgs: _containers.RepeatedScalarFieldContainer[str]
    diverse_from_lines_geojson: _containers.RepeatedScalarFieldContainer[str]
    via: _containers.RepeatedCompositeFieldContainer[Via]
    via_any_order: bool
    diversity_fallback: DiversityFallback
    diverse_from_demand: str
    avoid_area_ids: _containers.RepeatedScalarFieldContainer[str]
    within_area_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., a: _Optional[str] = ..., b: _Optional[str] = ..., max_latency_ms: _Optional[float] = ..., paths: _Optional[int] = ..., diversity: _Optional[_Union[Diversity, str]] = ..., max_jurisdictions: _Optional[int] = ..., max_cost: _Optional[float] = ..., allowed_jurisdictions: _Optional[_Iterable[str]] = ..., avoid_jurisdictions: _Optional[_Iterable[str]] = ..., min_separation_km: _Optional[float] = ..., endpoint_radius_km: _Optional[float] = ..., exclude_corridors: _Optional[_Iterable[str]] = ..., exclude_srlgs: _Optional[_Iterable[str]] = ..., avoid_areas_geojson: _Optional[_Iterable[str]] = ..., within_areas_geojson: _Optional[_Iterable[str]] = ..., diverse_from_corridors: _Optional[_Iterable[str]] = ..., diverse_from_srlgs: _Optional[_Iterable[str]] = ..., diverse_from_lines_geojson: _Optional[_Iterable[str]] = ..., via: _Optional[_Iterable[_Union[Via, _Mapping]]] = ..., via_any_order: _Optional[bool] = ..., diversity_fallback: _Optional[_Union[DiversityFallback, str]] = ..., diverse_from_demand: _Optional[str] = ..., avoid_area_ids: _Optional[_Iterable[str]] = ..., within_area_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Via(_message.Message):
    __slots__ = ("site", "point")
    SITE_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    site: str
    point: LonLat
    def __init__(self, site: _Optional[str] = ..., point: _Optional[_Union[LonLat, _Mapping]] = ...) -> None: ...

class LonLat(_message.Message):
    __slots__ = ("lon", "lat")
    LON_FIELD_NUMBER: _ClassVar[int]
    LAT_FIELD_NUMBER: _ClassVar[int]
    lon: float
    lat: float
    def __init__(self, lon: _Optional[float] = ..., lat: _Optional[float] = ...) -> None: ...

class SolverOptions(_message.Message):
    __slots__ = ("time_limit_s", "num_workers")
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    NUM_WORKERS_FIELD_NUMBER: _ClassVar[int]
    time_limit_s: float
    num_workers: int
    def __init__(self, time_limit_s: _Optional[float] = ..., num_workers: _Optional[int] = ...) -> None: ...

class OptimizeRequest(_message.Message):
    __slots__ = ("network_id", "demands", "settings", "solver", "include_jurisdiction_geometry", "name", "shared_build", "penalty_areas")
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    DEMANDS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_JURISDICTION_GEOMETRY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHARED_BUILD_FIELD_NUMBER: _ClassVar[int]
    PENALTY_AREAS_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    demands: _containers.RepeatedCompositeFieldContainer[Demand]
    settings: GraphSettings
    solver: SolverOptions
    include_jurisdiction_geometry: bool
    name: str
    shared_build: bool
    penalty_areas: _containers.RepeatedCompositeFieldContainer[PenaltyArea]
    def __init__(self, network_id: _Optional[str] = ..., demands: _Optional[_Iterable[_Union[Demand, _Mapping]]] = ..., settings: _Optional[_Union[GraphSettings, _Mapping]] = ..., solver: _Optional[_Union[SolverOptions, _Mapping]] = ..., include_jurisdiction_geometry: _Optional[bool] = ..., name: _Optional[str] = ..., shared_build: _Optional[bool] = ..., penalty_areas: _Optional[_Iterable[_Union[PenaltyArea, _Mapping]]] = ...) -> None: ...

class PenaltyArea(_message.Message):
    __slots__ = ("geometry_geojson", "cost_multiplier", "name")
    GEOMETRY_GEOJSON_FIELD_NUMBER: _ClassVar[int]
    COST_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    geometry_geojson: str
    cost_multiplier: float
    name: str
    def __init__(self, geometry_geojson: _Optional[str] = ..., cost_multiplier: _Optional[float] = ..., name: _Optional[str] = ...) -> None: ...

class JurisdictionCrossed(_message.Message):
    __slots__ = ("jurisdiction_id", "name", "level", "permit_cost", "geometry_wkb")
    JURISDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    PERMIT_COST_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_WKB_FIELD_NUMBER: _ClassVar[int]
    jurisdiction_id: str
    name: str
    level: str
    permit_cost: float
    geometry_wkb: bytes
    def __init__(self, jurisdiction_id: _Optional[str] = ..., name: _Optional[str] = ..., level: _Optional[str] = ..., permit_cost: _Optional[float] = ..., geometry_wkb: _Optional[bytes] = ...) -> None: ...

class RouteSegment(_message.Message):
    __slots__ = ("seq", "corridor_id", "kind", "srlg", "length_km", "latency_ms", "cost", "cost_per_km", "jurisdiction_by_level", "geometry_wkb", "edge_id", "risk_cost")
    class JurisdictionByLevelEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CORRIDOR_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SRLG_FIELD_NUMBER: _ClassVar[int]
    LENGTH_KM_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    COST_PER_KM_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_BY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_WKB_FIELD_NUMBER: _ClassVar[int]
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    RISK_COST_FIELD_NUMBER: _ClassVar[int]
    seq: int
    corridor_id: str
    kind: str
    srlg: str
    length_km: float
    latency_ms: float
    cost: float
    cost_per_km: float
    jurisdiction_by_level: _containers.ScalarMap[str, str]
    geometry_wkb: bytes
    edge_id: int
    risk_cost: float
    def __init__(self, seq: _Optional[int] = ..., corridor_id: _Optional[str] = ..., kind: _Optional[str] = ..., srlg: _Optional[str] = ..., length_km: _Optional[float] = ..., latency_ms: _Optional[float] = ..., cost: _Optional[float] = ..., cost_per_km: _Optional[float] = ..., jurisdiction_by_level: _Optional[_Mapping[str, str]] = ..., geometry_wkb: _Optional[bytes] = ..., edge_id: _Optional[int] = ..., risk_cost: _Optional[float] = ...) -> None: ...

class Route(_message.Message):
    __slots__ = ("demand_id", "route_index", "a", "b", "status", "reason", "max_latency_ms", "geometry_geojson", "geometry_wkb", "length_km", "latency_ms", "cost", "build_cost", "permit_cost", "corridor_kinds", "jurisdictions", "count_by_level", "permit_count", "bound", "gap", "solve_s", "segments", "outside_km", "outside_km_by_level", "warnings", "shared_km", "risk_cost")
    class CountByLevelEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class OutsideKmByLevelEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    DEMAND_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_INDEX_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MAX_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_GEOJSON_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_WKB_FIELD_NUMBER: _ClassVar[int]
    LENGTH_KM_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    BUILD_COST_FIELD_NUMBER: _ClassVar[int]
    PERMIT_COST_FIELD_NUMBER: _ClassVar[int]
    CORRIDOR_KINDS_FIELD_NUMBER: _ClassVar[int]
    JURISDICTIONS_FIELD_NUMBER: _ClassVar[int]
    COUNT_BY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PERMIT_COUNT_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    SOLVE_S_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    OUTSIDE_KM_FIELD_NUMBER: _ClassVar[int]
    OUTSIDE_KM_BY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    SHARED_KM_FIELD_NUMBER: _ClassVar[int]
    RISK_COST_FIELD_NUMBER: _ClassVar[int]
    demand_id: str
    route_index: int
    a: str
    b: str
    status: RouteStatus
    reason: str
    max_latency_ms: float
    geometry_geojson: str
    geometry_wkb: bytes
    length_km: float
    latency_ms: float
    cost: float
    build_cost: float
    permit_cost: float
    corridor_kinds: _containers.RepeatedScalarFieldContainer[str]
    jurisdictions: _containers.RepeatedCompositeFieldContainer[JurisdictionCrossed]
    count_by_level: _containers.ScalarMap[str, int]
    permit_count: int
    bound: float
    gap: float
    solve_s: float
    segments: _containers.RepeatedCompositeFieldContainer[RouteSegment]
    outside_km: float
    outside_km_by_level: _containers.ScalarMap[str, float]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    shared_km: float
    risk_cost: float
    def __init__(self, demand_id: _Optional[str] = ..., route_index: _Optional[int] = ..., a: _Optional[str] = ..., b: _Optional[str] = ..., status: _Optional[_Union[RouteStatus, str]] = ..., reason: _Optional[str] = ..., max_latency_ms: _Optional[float] = ..., geometry_geojson: _Optional[str] = ..., geometry_wkb: _Optional[bytes] = ..., length_km: _Optional[float] = ..., latency_ms: _Optional[float] = ..., cost: _Optional[float] = ..., build_cost: _Optional[float] = ..., permit_cost: _Optional[float] = ..., corridor_kinds: _Optional[_Iterable[str]] = ..., jurisdictions: _Optional[_Iterable[_Union[JurisdictionCrossed, _Mapping]]] = ..., count_by_level: _Optional[_Mapping[str, int]] = ..., permit_count: _Optional[int] = ..., bound: _Optional[float] = ..., gap: _Optional[float] = ..., solve_s: _Optional[float] = ..., segments: _Optional[_Iterable[_Union[RouteSegment, _Mapping]]] = ..., outside_km: _Optional[float] = ..., outside_km_by_level: _Optional[_Mapping[str, float]] = ..., warnings: _Optional[_Iterable[str]] = ..., shared_km: _Optional[float] = ..., risk_cost: _Optional[float] = ...) -> None: ...

class Timings(_message.Message):
    __slots__ = ("graph_s", "solve_s")
    GRAPH_S_FIELD_NUMBER: _ClassVar[int]
    SOLVE_S_FIELD_NUMBER: _ClassVar[int]
    graph_s: float
    solve_s: float
    def __init__(self, graph_s: _Optional[float] = ..., solve_s: _Optional[float] = ...) -> None: ...

class OptimizeResponse(_message.Message):
    __slots__ = ("name", "network_id", "routes", "total_cost", "status", "timings", "stats", "sites", "levels", "design")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    SITES_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    DESIGN_FIELD_NUMBER: _ClassVar[int]
    name: str
    network_id: str
    routes: _containers.RepeatedCompositeFieldContainer[Route]
    total_cost: float
    status: RouteStatus
    timings: Timings
    stats: GraphStats
    sites: _containers.RepeatedCompositeFieldContainer[Site]
    levels: _containers.RepeatedScalarFieldContainer[str]
    design: Design
    def __init__(self, name: _Optional[str] = ..., network_id: _Optional[str] = ..., routes: _Optional[_Iterable[_Union[Route, _Mapping]]] = ..., total_cost: _Optional[float] = ..., status: _Optional[_Union[RouteStatus, str]] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ..., stats: _Optional[_Union[GraphStats, _Mapping]] = ..., sites: _Optional[_Iterable[_Union[Site, _Mapping]]] = ..., levels: _Optional[_Iterable[str]] = ..., design: _Optional[_Union[Design, _Mapping]] = ...) -> None: ...

class Design(_message.Message):
    __slots__ = ("shared_build", "cost", "bound", "gap", "independent_cost", "unsolved_demands")
    SHARED_BUILD_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    INDEPENDENT_COST_FIELD_NUMBER: _ClassVar[int]
    UNSOLVED_DEMANDS_FIELD_NUMBER: _ClassVar[int]
    shared_build: bool
    cost: float
    bound: float
    gap: float
    independent_cost: float
    unsolved_demands: int
    def __init__(self, shared_build: _Optional[bool] = ..., cost: _Optional[float] = ..., bound: _Optional[float] = ..., gap: _Optional[float] = ..., independent_cost: _Optional[float] = ..., unsolved_demands: _Optional[int] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("phase", "percent", "demand_id", "incumbent_cost", "bound")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    DEMAND_ID_FIELD_NUMBER: _ClassVar[int]
    INCUMBENT_COST_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    phase: Phase
    percent: float
    demand_id: str
    incumbent_cost: float
    bound: float
    def __init__(self, phase: _Optional[_Union[Phase, str]] = ..., percent: _Optional[float] = ..., demand_id: _Optional[str] = ..., incumbent_cost: _Optional[float] = ..., bound: _Optional[float] = ...) -> None: ...

class OptimizeEvent(_message.Message):
    __slots__ = ("progress", "route", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: Progress
    route: Route
    result: OptimizeResponse
    def __init__(self, progress: _Optional[_Union[Progress, _Mapping]] = ..., route: _Optional[_Union[Route, _Mapping]] = ..., result: _Optional[_Union[OptimizeResponse, _Mapping]] = ...) -> None: ...

class FrontierRequest(_message.Message):
    __slots__ = ("network_id", "demand", "settings", "solver", "max_points")
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    DEMAND_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    demand: Demand
    settings: GraphSettings
    solver: SolverOptions
    max_points: int
    def __init__(self, network_id: _Optional[str] = ..., demand: _Optional[_Union[Demand, _Mapping]] = ..., settings: _Optional[_Union[GraphSettings, _Mapping]] = ..., solver: _Optional[_Union[SolverOptions, _Mapping]] = ..., max_points: _Optional[int] = ...) -> None: ...

class FrontierPoint(_message.Message):
    __slots__ = ("cost", "latency_ms", "routes")
    COST_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    cost: float
    latency_ms: float
    routes: _containers.RepeatedCompositeFieldContainer[Route]
    def __init__(self, cost: _Optional[float] = ..., latency_ms: _Optional[float] = ..., routes: _Optional[_Iterable[_Union[Route, _Mapping]]] = ...) -> None: ...

class FrontierResponse(_message.Message):
    __slots__ = ("demand_id", "points", "complete", "reason", "solve_s")
    DEMAND_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SOLVE_S_FIELD_NUMBER: _ClassVar[int]
    demand_id: str
    points: _containers.RepeatedCompositeFieldContainer[FrontierPoint]
    complete: bool
    reason: str
    solve_s: float
    def __init__(self, demand_id: _Optional[str] = ..., points: _Optional[_Iterable[_Union[FrontierPoint, _Mapping]]] = ..., complete: _Optional[bool] = ..., reason: _Optional[str] = ..., solve_s: _Optional[float] = ...) -> None: ...
