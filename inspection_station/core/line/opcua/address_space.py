"""The OPC 40100-1 types and the station's VisionSystem object, built in our own code.

Types live in the standard's namespace with the standard's NodeIds (ids.py); the instance
(`Objects/VisionSystem`) lives in the station's own namespace, its components named in the
standard's namespace (`MachineVision:VisionStateMachine`, `MachineVision:RecipeManagement`,
...) as a companion-spec client browses for them. Only what the station does is modelled:
the mandatory methods it can honour, the states it has, the events it emits.

Deviations (docs/plant_integration.md): TrimmedString fields are plain String; the
ResultState field is Int32 (its type, ResultStateDataType, is declared for the event's
property); there is no ConfigurationManagement (a station has one configuration) and no
file transfer of recipes or results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asyncua import Node, Server
from asyncua import ua as _ua
from asyncua.common.manage_nodes import create_encoding
from asyncua.common.structures104 import new_struct_field

from inspection_station.core.line.opcua import ids

# asyncua makes the standard's structures (ua.ResultDataType, ...) at run time from the
# data type definitions: its `ua` module is typed as Any here
ua: Any = _ua

STRING, BYTES, TEXT, DATETIME, DOUBLE, BOOL, INT32, UINT32, NODEID = (
    ua.NodeId(ua.ObjectIds.String), ua.NodeId(ua.ObjectIds.ByteString), ua.NodeId(ua.ObjectIds.LocalizedText),
    ua.NodeId(ua.ObjectIds.DateTime), ua.NodeId(ua.ObjectIds.Double), ua.NodeId(ua.ObjectIds.Boolean),
    ua.NodeId(ua.ObjectIds.Int32), ua.NodeId(ua.ObjectIds.UInt32), ua.NodeId(ua.ObjectIds.NodeId),
)
BASE = ua.NodeId(ua.ObjectIds.BaseDataType)


@dataclass
class Nodes:
    """What the server updates and calls into, by role."""

    mv: int  # the MachineVision namespace index
    ns: int  # the station's namespace index
    vision_system: Node = None  # type: ignore[assignment]
    state: Node = None  # type: ignore[assignment]
    state_id: Node = None  # type: ignore[assignment]
    auto_state: Node = None  # type: ignore[assignment]
    auto_state_id: Node = None  # type: ignore[assignment]
    system_state: Node = None  # type: ignore[assignment]
    safety_triggered: Node = None  # type: ignore[assignment]
    safety_information: Node = None  # type: ignore[assignment]
    recipes: Node = None  # type: ignore[assignment]
    last_message: Node = None  # type: ignore[assignment]
    result_event_type: Node = None  # type: ignore[assignment]
    counters: dict[str, Node] = field(default_factory=dict)
    recipe_nodes: dict[str, Node] = field(default_factory=dict)
    methods: dict[str, Node] = field(default_factory=dict)


def _id(ns: int, value: int | str) -> ua.NodeId:
    return ua.NodeId(value, ns)


async def _struct(server: Server, mv: int, ids_: tuple[int, int], name: str, fields: list[ua.StructureField]) -> None:
    dtype_id, encoding_id = ids_
    base = server.nodes.base_structure_type
    dtype = await base.add_data_type(_id(mv, dtype_id), ua.QualifiedName(name, mv))
    encoding = await create_encoding(dtype, _id(mv, encoding_id), ua.QualifiedName("Default Binary", 0))
    sdef = ua.StructureDefinition()
    sdef.BaseDataType = base.nodeid
    sdef.StructureType = (ua.StructureType.StructureWithOptionalFields if any(f.IsOptional for f in fields)
                          else ua.StructureType.Structure)
    sdef.Fields = fields
    sdef.DefaultEncodingId = encoding.nodeid
    await dtype.write_data_type_definition(sdef)


async def _enum(server: Server, mv: int, dtype_id: int, name: str, values: dict[str, int]) -> None:
    dtype = await server.nodes.enum_data_type.add_data_type(_id(mv, dtype_id), ua.QualifiedName(name, mv))
    edef = ua.EnumDefinition()
    edef.Fields = [ua.EnumField(Value=v, DisplayName=ua.LocalizedText(n), Name=n) for n, v in values.items()]
    await dtype.write_data_type_definition(edef)


def _f(name: str, dtype: ua.NodeId, *, optional: bool = False, array: bool = False) -> ua.StructureField:
    return new_struct_field(name, dtype, array=array, optional=optional)


async def add_types(server: Server, mv: int) -> None:
    """The data types, object types and the event type this server instantiates."""
    def idf() -> list[ua.StructureField]:  # BinaryIdBaseDataType's fields
        return [_f("Id", STRING), _f("Version", STRING), _f("Hash", BYTES), _f("HashAlgorithm", STRING),
                _f("Description", TEXT)]

    await _struct(server, mv, ids.RECIPE_ID_EXTERNAL, "RecipeIdExternalDataType", idf())
    await _struct(server, mv, ids.RECIPE_ID_INTERNAL, "RecipeIdInternalDataType", idf())
    await _struct(server, mv, ids.CONFIGURATION_ID, "ConfigurationIdDataType", idf())
    for ids_, name in ((ids.PRODUCT_ID, "ProductIdDataType"), (ids.PART_ID, "PartIdDataType"),
                       (ids.MEAS_ID, "MeasIdDataType")):
        await _struct(server, mv, ids_, name, [_f("Id", STRING), _f("Description", TEXT, optional=True)])
    await _struct(server, mv, ids.JOB_ID, "JobIdDataType", [_f("Id", STRING)])
    await _struct(server, mv, ids.RESULT_ID, "ResultIdDataType", [_f("Id", STRING)])
    await _struct(server, mv, ids.PROCESSING_TIMES, "ProcessingTimesDataType", [
        _f("StartTime", DATETIME), _f("EndTime", DATETIME), _f("AcquisitionDuration", DOUBLE, optional=True),
        _f("ProcessingDuration", DOUBLE, optional=True)])
    t = lambda n: _id(mv, n[0])  # noqa: E731
    await _struct(server, mv, ids.RESULT, "ResultDataType", [
        _f("ResultId", t(ids.RESULT_ID)), _f("HasTransferableDataOnFile", BOOL, optional=True),
        _f("IsPartial", BOOL), _f("IsSimulated", BOOL, optional=True), _f("ResultState", INT32),
        _f("MeasId", t(ids.MEAS_ID), optional=True), _f("PartId", t(ids.PART_ID), optional=True),
        _f("ExternalRecipeId", t(ids.RECIPE_ID_EXTERNAL), optional=True),
        _f("InternalRecipeId", t(ids.RECIPE_ID_INTERNAL)), _f("ProductId", t(ids.PRODUCT_ID), optional=True),
        _f("ExternalConfigurationId", t(ids.CONFIGURATION_ID), optional=True),
        _f("InternalConfigurationId", t(ids.CONFIGURATION_ID)), _f("JobId", t(ids.JOB_ID)),
        _f("CreationTime", DATETIME), _f("ProcessingTimes", t(ids.PROCESSING_TIMES), optional=True),
        _f("ResultContent", BASE, optional=True, array=True)])
    await _enum(server, mv, ids.SYSTEM_STATE, "SystemStateDataType",
                {"PRD_1": 1, "SBY_2": 2, "ENG_3": 3, "SDT_4": 4, "UDT_5": 5, "NST_6": 6})
    await _enum(server, mv, ids.TRI_STATE_BOOLEAN, "TriStateBooleanDataType",
                {"FALSE_0": 0, "TRUE_1": 1, "DONTCARE_2": 2})
    await _struct(server, mv, ids.SYSTEM_STATE_DESCRIPTION, "SystemStateDescriptionDataType",
                  [_f("State", _id(mv, ids.SYSTEM_STATE)), _f("StateDescription", STRING, optional=True)])
    int32 = server.get_node(INT32)
    await int32.add_data_type(_id(mv, ids.RESULT_STATE), ua.QualifiedName("ResultStateDataType", mv))
    await server.get_node(UINT32).add_data_type(_id(mv, ids.HANDLE), ua.QualifiedName("Handle", mv))

    base_object = server.nodes.base_object_type
    fsm = server.get_node(ua.NodeId(ua.ObjectIds.FiniteStateMachineType))
    for type_id, name, parent in (
        (ids.VISION_SYSTEM_TYPE, "VisionSystemType", base_object),
        (ids.RECIPE_MANAGEMENT_TYPE, "RecipeManagementType", base_object),
        (ids.RESULT_MANAGEMENT_TYPE, "ResultManagementType", base_object),
        (ids.SAFETY_STATE_MANAGEMENT_TYPE, "SafetyStateManagementType", base_object),
        (ids.RECIPE_TYPE, "RecipeType", base_object),
        (ids.RECIPE_FOLDER_TYPE, "RecipeFolderType", server.get_node(ua.NodeId(ua.ObjectIds.FolderType))),
    ):
        await parent.add_object_type(_id(mv, type_id), ua.QualifiedName(name, mv))
    vsm = await fsm.add_object_type(_id(mv, ids.VISION_STATE_MACHINE_TYPE), ua.QualifiedName("VisionStateMachineType", mv))
    auto = await fsm.add_object_type(_id(mv, ids.VISION_AUTOMATIC_MODE_STATE_MACHINE_TYPE),
                                     ua.QualifiedName("VisionAutomaticModeStateMachineType", mv))
    state_type = ua.NodeId(ua.ObjectIds.StateType)
    for state_id in (ids.PREOPERATIONAL, ids.HALTED, ids.ERROR, ids.OPERATIONAL):
        node = await vsm.add_object(_id(mv, state_id), ua.QualifiedName(ids.STATE_NAMES[state_id], mv), state_type)
        await _state_number(node, state_id)
    for state_id in (ids.INITIALIZED, ids.READY, ids.SINGLE_EXECUTION, ids.CONTINUOUS_EXECUTION):
        node = await auto.add_object(_id(mv, state_id), ua.QualifiedName(ids.STATE_NAMES[state_id], mv), state_type)
        await _state_number(node, state_id)

    event = await server.nodes.base_event_type.add_object_type(
        _id(mv, ids.RESULT_READY_EVENT_TYPE), ua.QualifiedName("ResultReadyEventType", mv))
    types = {"ResultId": t(ids.RESULT_ID), "IsPartial": BOOL, "IsSimulated": BOOL,
             "ResultState": _id(mv, ids.RESULT_STATE), "MeasId": t(ids.MEAS_ID), "JobId": t(ids.JOB_ID),
             "ExternalRecipeId": t(ids.RECIPE_ID_EXTERNAL), "InternalRecipeId": t(ids.RECIPE_ID_INTERNAL),
             "CreationTime": DATETIME, "PartId": t(ids.PART_ID), "ProcessingTimes": t(ids.PROCESSING_TIMES),
             "ResultContent": BASE, "InternalConfigurationId": t(ids.CONFIGURATION_ID), "ProductId": t(ids.PRODUCT_ID)}
    for name, node_id in ids.RESULT_READY_PROPERTIES.items():
        prop = await event.add_property(_id(mv, node_id), ua.QualifiedName(name, mv), None, datatype=types[name])
        await prop.set_modelling_rule(True)
    await server.load_data_type_definitions()


async def _state_number(state: Node, state_id: int) -> None:
    for child in await state.get_children():
        if (await child.read_browse_name()).Name == "StateNumber":
            await child.write_value(ua.Variant(ids.STATE_NUMBERS[state_id], ua.VariantType.UInt32))
            return
    await state.add_property(0, "StateNumber", ua.Variant(ids.STATE_NUMBERS[state_id], ua.VariantType.UInt32))


def arg(name: str, dtype: ua.NodeId, *, array: bool = False, description: str = "") -> ua.Argument:
    a = ua.Argument()
    a.Name = name
    a.DataType = dtype
    a.ValueRank = 1 if array else -1
    a.ArrayDimensions = [0] if array else []
    a.Description = ua.LocalizedText(description)
    return a


def error_arg() -> ua.Argument:
    return arg("Error", INT32, description="0: done; < 0: refused (the station's reason is in LastMessage)")


async def add_station_event_type(server: Server, ns: int, mv: int) -> Node:
    """The station's ResultReady subtype: the standard's fields plus the verdict's details."""
    base = server.get_node(_id(mv, ids.RESULT_READY_EVENT_TYPE))
    etype = await base.add_object_type(_id(ns, "InspectionResultReadyEventType"),
                                       ua.QualifiedName("InspectionResultReadyEventType", ns))
    for name, dtype in (("Verdict", STRING), ("CycleId", STRING), ("Recipe", STRING), ("RecipeVersion", STRING),
                        ("MissingSlots", STRING), ("WrongParts", STRING), ("CycleTimeMs", DOUBLE),
                        ("Error", STRING)):
        prop = await etype.add_property(_id(ns, f"InspectionResultReadyEventType.{name}"),
                                        ua.QualifiedName(name, ns), None, datatype=dtype)
        await prop.set_modelling_rule(True)
    return etype


async def add_vision_system(server: Server, mv: int, ns: int, station: str, methods: dict[str, Any]) -> Nodes:
    """Objects/VisionSystem with its components; `methods` maps a method's name to its callback."""
    nodes = Nodes(mv, ns)
    q = lambda name: ua.QualifiedName(name, mv)  # noqa: E731
    s = lambda path: _id(ns, f"VisionSystem.{path}")  # noqa: E731
    vs = await server.nodes.objects.add_object(_id(ns, "VisionSystem"), ua.QualifiedName("VisionSystem", ns),
                                               _id(mv, ids.VISION_SYSTEM_TYPE))
    nodes.vision_system = vs
    await vs.write_attribute(ua.AttributeIds.Description, ua.DataValue(ua.Variant(
        ua.LocalizedText(f"Inspection station {station} (OPC 40100-1 Machine Vision)"))))
    t = lambda n: _id(mv, n[0])  # noqa: E731
    cause = [arg("Cause", INT32), arg("CauseDescription", STRING)]

    vsm = await vs.add_object(s("VisionStateMachine"), q("VisionStateMachine"), _id(mv, ids.VISION_STATE_MACHINE_TYPE))
    nodes.state, nodes.state_id = await _current_state(vsm, s("VisionStateMachine"), ids.PREOPERATIONAL, mv)
    for name in ("Reset", "Halt"):
        nodes.methods[name] = await vsm.add_method(s(f"VisionStateMachine.{name}"), q(name), methods[name],
                                                   cause, [error_arg()])
    auto = await vsm.add_object(s("VisionStateMachine.AutomaticModeStateMachine"), q("AutomaticModeStateMachine"),
                                _id(mv, ids.VISION_AUTOMATIC_MODE_STATE_MACHINE_TYPE))
    nodes.auto_state, nodes.auto_state_id = await _current_state(
        auto, s("VisionStateMachine.AutomaticModeStateMachine"), ids.INITIALIZED, mv)
    a = "VisionStateMachine.AutomaticModeStateMachine."
    nodes.methods["StartSingleJob"] = await auto.add_method(
        s(a + "StartSingleJob"), q("StartSingleJob"), methods["StartSingleJob"],
        [arg("MeasId", t(ids.MEAS_ID)), arg("PartId", t(ids.PART_ID)), arg("RecipeId", t(ids.RECIPE_ID_EXTERNAL)),
         arg("ProductId", t(ids.PRODUCT_ID)), arg("Parameters", BASE, array=True)],
        [arg("JobId", t(ids.JOB_ID)), error_arg()])
    for name in ("Stop", "Abort"):
        nodes.methods[name] = await auto.add_method(s(a + name), q(name), methods[name], cause, [error_arg()])

    rm = await vs.add_object(s("RecipeManagement"), q("RecipeManagement"), _id(mv, ids.RECIPE_MANAGEMENT_TYPE))
    ext, internal = t(ids.RECIPE_ID_EXTERNAL), t(ids.RECIPE_ID_INTERNAL)
    for name, inputs, outputs in (
        ("PrepareRecipe", [arg("ExternalId", ext), arg("InternalIdIn", internal)],
         [arg("InternalIdOut", internal), arg("IsCompleted", BOOL), error_arg()]),
        ("UnprepareRecipe", [arg("ExternalId", ext), arg("InternalIdIn", internal)],
         [arg("InternalIdOut", internal), error_arg()]),
        ("GetRecipeListFiltered", [arg("ExternalId", ext), arg("ProductId", t(ids.PRODUCT_ID)),
                                   arg("IsPrepared", _id(mv, ids.TRI_STATE_BOOLEAN)), arg("MaxResults", UINT32),
                                   arg("StartIndex", UINT32), arg("Timeout", INT32)],
         [arg("IsComplete", BOOL), arg("ResultCount", UINT32), arg("RecipeHandle", _id(mv, ids.HANDLE)),
          arg("RecipeList", internal, array=True), error_arg()]),
        ("PrepareProduct", [arg("ProductId", t(ids.PRODUCT_ID))], [arg("InternalId", internal), error_arg()]),
    ):
        nodes.methods[name] = await rm.add_method(s(f"RecipeManagement.{name}"), q(name), methods[name],
                                                  inputs, outputs)
    nodes.recipes = await rm.add_object(s("RecipeManagement.Recipes"), q("Recipes"), _id(mv, ids.RECIPE_FOLDER_TYPE))

    res = await vs.add_object(s("ResultManagement"), q("ResultManagement"), _id(mv, ids.RESULT_MANAGEMENT_TYPE))
    result, handle = t(ids.RESULT), _id(mv, ids.HANDLE)
    nodes.methods["GetResultById"] = await res.add_method(
        s("ResultManagement.GetResultById"), q("GetResultById"), methods["GetResultById"],
        [arg("ResultId", t(ids.RESULT_ID)), arg("Timeout", INT32)],
        [arg("ResultHandle", handle), arg("Result", result), error_arg()])
    nodes.methods["GetResultListFiltered"] = await res.add_method(
        s("ResultManagement.GetResultListFiltered"), q("GetResultListFiltered"), methods["GetResultListFiltered"],
        [arg("ResultState", _id(mv, ids.RESULT_STATE)), arg("MeasId", t(ids.MEAS_ID)), arg("PartId", t(ids.PART_ID)),
         arg("ExternalRecipeId", ext), arg("InternalRecipeId", internal),
         arg("ExternalConfigurationId", t(ids.CONFIGURATION_ID)),
         arg("InternalConfigurationId", t(ids.CONFIGURATION_ID)), arg("ProductId", t(ids.PRODUCT_ID)),
         arg("JobId", t(ids.JOB_ID)), arg("MaxResults", UINT32), arg("StartIndex", UINT32), arg("Timeout", INT32)],
        [arg("IsComplete", BOOL), arg("ResultCount", UINT32), arg("ResultHandle", handle),
         arg("ResultList", result, array=True), error_arg()])
    nodes.methods["ReleaseResultHandle"] = await res.add_method(
        s("ResultManagement.ReleaseResultHandle"), q("ReleaseResultHandle"), methods["ReleaseResultHandle"],
        [arg("ResultHandle", handle)], [error_arg()])

    safety = await vs.add_object(s("SafetyStateManagement"), q("SafetyStateManagement"),
                                 _id(mv, ids.SAFETY_STATE_MANAGEMENT_TYPE))
    nodes.safety_triggered = await safety.add_variable(s("SafetyStateManagement.VisionSafetyTriggered"),
                                                       q("VisionSafetyTriggered"), False, ua.VariantType.Boolean)
    nodes.safety_information = await safety.add_variable(s("SafetyStateManagement.VisionSafetyInformation"),
                                                         q("VisionSafetyInformation"), "", ua.VariantType.String)
    nodes.methods["ReportSafetyState"] = await safety.add_method(
        s("SafetyStateManagement.ReportSafetyState"), q("ReportSafetyState"), methods["ReportSafetyState"],
        [arg("SafetyTriggered", BOOL), arg("SafetyInformation", STRING)], [error_arg()])

    nodes.system_state = await vs.add_variable(
        s("SystemState"), q("SystemState"),
        ua.SystemStateDescriptionDataType(State=ua.SystemStateDataType(ids.NST), StateDescription="NST"),
        datatype=t(ids.SYSTEM_STATE_DESCRIPTION))

    counters = await vs.add_folder(s("Statistics"), ua.QualifiedName("Statistics", ns))
    for name, value, vtype in (("CyclesOk", 0, ua.VariantType.UInt64), ("CyclesNok", 0, ua.VariantType.UInt64),
                               ("CyclesError", 0, ua.VariantType.UInt64),
                               ("TriggersRefused", 0, ua.VariantType.UInt64),
                               ("LastCycleTimeMs", 0.0, ua.VariantType.Double)):
        nodes.counters[name] = await counters.add_variable(s(f"Statistics.{name}"), ua.QualifiedName(name, ns),
                                                           value, vtype)
    setup = await vs.add_folder(s("SetUp"), ua.QualifiedName("SetUp", ns))  # read back from the machinery
    values: tuple[tuple[str, object, Any], ...] = (
        ("ExposureTimeUs", 0.0, ua.VariantType.Double), ("ModelConfidence", 0.0, ua.VariantType.Double),
        ("Recipe", "", ua.VariantType.String), ("RecipeVersion", "", ua.VariantType.String))
    for name, initial, vtype in values:
        nodes.counters[name] = await setup.add_variable(s(f"SetUp.{name}"), ua.QualifiedName(name, ns), initial, vtype)
    nodes.last_message = await vs.add_variable(s("LastMessage"), ua.QualifiedName("LastMessage", ns), "",
                                               ua.VariantType.String)
    return nodes


async def _current_state(machine: Node, base: ua.NodeId, state_id: int, mv: int) -> tuple[Node, Node]:
    """The machine's CurrentState and its Id (made by the FiniteStateMachineType's instantiation)."""
    var = await machine.get_child(["0:CurrentState"])
    prop = await var.get_child(["0:Id"])
    await var.write_value(ua.LocalizedText(ids.STATE_NAMES[state_id]))
    await prop.write_value(ua.Variant(_id(mv, state_id), ua.VariantType.NodeId))
    return var, prop


async def add_recipe_node(nodes: Nodes, name: str, version: str, prepared: bool, products: tuple[str, ...]) -> Node:
    mv, ns = nodes.mv, nodes.ns
    base = f"VisionSystem.RecipeManagement.Recipes.{name}"
    node = await nodes.recipes.add_object(_id(ns, base), ua.QualifiedName(name, ns), _id(mv, ids.RECIPE_TYPE))
    await node.add_property(_id(ns, base + ".ExternalId"), ua.QualifiedName("ExternalId", mv),
                            recipe_id(name, version, external=True),
                            datatype=_id(mv, ids.RECIPE_ID_EXTERNAL[0]))
    await node.add_property(_id(ns, base + ".InternalId"), ua.QualifiedName("InternalId", mv),
                            recipe_id(name, version), datatype=_id(mv, ids.RECIPE_ID_INTERNAL[0]))
    await node.add_property(_id(ns, base + ".IsPrepared"), ua.QualifiedName("IsPrepared", mv), prepared,
                            ua.VariantType.Boolean)
    await node.add_property(_id(ns, base + ".LinkedProducts"), ua.QualifiedName("LinkedProducts", mv),
                            ua.Variant([ua.ProductIdDataType(Id=p) for p in products], ua.VariantType.ExtensionObject),
                            datatype=_id(mv, ids.PRODUCT_ID[0]))
    nodes.recipe_nodes[name] = node
    return node


def recipe_id(name: str, version: str, *, external: bool = False) -> Any:
    cls = ua.RecipeIdExternalDataType if external else ua.RecipeIdInternalDataType
    return cls(Id=name, Version=version, Hash=b"", HashAlgorithm="", Description=ua.LocalizedText(""))
