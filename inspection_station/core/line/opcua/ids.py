"""OPC 40100-1 (Machine Vision) facts this server uses: the namespace and the standard's
numeric NodeIds of its types (from the OPC Foundation's published NodeIds of the
MachineVision namespace; the nodes themselves are built in our own code, address_space.py).
"""

from __future__ import annotations

MV_URI = "http://opcfoundation.org/UA/MachineVision"

# ObjectTypes
RECIPE_TYPE = 1002
VISION_SYSTEM_TYPE = 1003
RECIPE_MANAGEMENT_TYPE = 1004
RESULT_MANAGEMENT_TYPE = 1007
RECIPE_FOLDER_TYPE = 1008
SAFETY_STATE_MANAGEMENT_TYPE = 1009
VISION_STATE_MACHINE_TYPE = 1017
VISION_AUTOMATIC_MODE_STATE_MACHINE_TYPE = 1021
RESULT_READY_EVENT_TYPE = 1024

# DataTypes: (NodeId, its Default Binary encoding's NodeId)
RECIPE_ID_EXTERNAL = (3002, 5002)
PRODUCT_ID = (3003, 5224)
PART_ID = (3004, 5013)
PROCESSING_TIMES = (3005, 5016)
RESULT = (3006, 5018)
CONFIGURATION_ID = (3008, 5090)
RESULT_STATE = 3009  # Int32 subtype
RECIPE_ID_INTERNAL = (3013, 5268)
TRI_STATE_BOOLEAN = 3014  # enumeration FALSE_0, TRUE_1, DONTCARE_2
MEAS_ID = (3015, 5006)
JOB_ID = (3016, 5008)
HANDLE = 3018  # UInt32 subtype
RESULT_ID = (3021, 5274)
SYSTEM_STATE = 3023  # enumeration PRD_1 .. NST_6
SYSTEM_STATE_DESCRIPTION = (3024, 5278)

# The states of the two state machines (objects of the types), for CurrentState/Id
PREOPERATIONAL, HALTED, ERROR, OPERATIONAL = 5028, 5029, 5030, 5031
INITIALIZED, READY, SINGLE_EXECUTION, CONTINUOUS_EXECUTION = 5056, 5057, 5058, 5059
STATE_NUMBERS = {PREOPERATIONAL: 1, HALTED: 2, ERROR: 3, OPERATIONAL: 4,
                 INITIALIZED: 1, READY: 2, SINGLE_EXECUTION: 3, CONTINUOUS_EXECUTION: 4}
STATE_NAMES = {PREOPERATIONAL: "Preoperational", HALTED: "Halted", ERROR: "Error", OPERATIONAL: "Operational",
               INITIALIZED: "Initialized", READY: "Ready", SINGLE_EXECUTION: "SingleExecution",
               CONTINUOUS_EXECUTION: "ContinuousExecution"}

# ResultReadyEventType's properties (their NodeIds in the type)
RESULT_READY_PROPERTIES = {
    "ResultId": 6295, "IsPartial": 6296, "IsSimulated": 6297, "ResultState": 6298, "MeasId": 6299,
    "JobId": 6300, "ExternalRecipeId": 6301, "InternalRecipeId": 6302, "CreationTime": 6303,
    "PartId": 6304, "ProcessingTimes": 6305, "ResultContent": 6306, "InternalConfigurationId": 6142,
    "ProductId": 6143,
}

# ResultStateDataType (OPC 40100-1 12.19): 1 Completed, 2 Processing, 3 Aborted, 4 Failed;
# negative values are application-specific. The verdict on it: OK = 1 (completed, part good),
# NOK = -1 (ours: completed, part rejected), ERROR = 4 (processing failed).
RESULT_STATE_OF_VERDICT = {"OK": 1, "NOK": -1, "ERROR": 4}

# SystemStateDataType (SEMI E10)
PRD, SBY, ENG, SDT, UDT, NST = 1, 2, 3, 4, 5, 6
