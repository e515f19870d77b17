"""OPC UA (issue 22): a real asyncua client against the real server `serve --opcua` starts.

One served station per module (asyncua's handshakes are slow): the tests run in file order
and each leaves the station as it found it (product_ok active, not on hold)."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from inspection_station.core.results.csv_log import read_log
from tests.opcua_station import PASSWORD, serve

asyncua = pytest.importorskip("asyncua")
from asyncua import Client, ua  # noqa: E402

pytestmark = pytest.mark.slow
MV = "http://opcfoundation.org/UA/MachineVision"
WAIT_S = 60.0
CLIENT_TIMEOUT_S = 30.0  # per request and for the health probe (asyncua's 4 s / 1 s): a loaded CI machine is slower


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = serve(tmp_path_factory.mktemp("opcua"))
    yield s
    s.stop()


def rows(served) -> list[dict]:
    return [r for f in sorted(served.log_dir.glob("*.csv")) for r in read_log(f)]


def audit(served, kind: str) -> list[dict]:
    lines = []
    for f in served.audit.rglob("audit.jsonl"):
        lines += [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    return [x for x in lines if x["kind"] == kind]


class Station:
    """The nodes a PLC program would use, found by browsing (no NodeId hard-coded)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.events: list = []

    async def find(self) -> Station:
        c = self.client
        await c.load_data_type_definitions()
        ns = await c.get_namespace_array()
        self.mv = ns.index(MV)
        self.vs = None
        for child in await c.nodes.objects.get_children():
            if (await child.read_browse_name()).Name == "VisionSystem":
                self.vs = child
        m = self.mv
        self.rm = await self.vs.get_child([f"{m}:RecipeManagement"])
        self.res = await self.vs.get_child([f"{m}:ResultManagement"])
        self.vsm = await self.vs.get_child([f"{m}:VisionStateMachine"])
        self.auto = await self.vsm.get_child([f"{m}:AutomaticModeStateMachine"])
        self.last_message = await self.vs.get_child([f"{ns.index('urn:inspection-station:station-1')}:LastMessage"])
        self.event_type = await c.nodes.root.get_child(
            ["0:Types", "0:EventTypes", "0:BaseEventType", f"{m}:ResultReadyEventType"])
        self.station_event_type = None
        for n in await self.event_type.get_children():
            if (await n.read_browse_name()).Name == "InspectionResultReadyEventType":
                self.station_event_type = n
        return self

    async def call(self, parent, name: str, *args):
        method = await parent.get_child([f"{self.mv}:{name}"])
        return await parent.call_method(method, *args)

    async def prepare(self, name: str):
        return await self.call(self.rm, "PrepareRecipe", recipe_id(ua.RecipeIdExternalDataType, name),
                               recipe_id(ua.RecipeIdInternalDataType, ""))

    async def start_job(self, part: str = ""):
        return await self.call(self.auto, "StartSingleJob", ua.MeasIdDataType(Id="m"), ua.PartIdDataType(Id=part),
                               recipe_id(ua.RecipeIdExternalDataType, ""), ua.ProductIdDataType(Id=""),
                               ua.Variant([], ua.VariantType.Variant))

    async def subscribe(self):
        station = self

        class Handler:
            def event_notification(self, event):
                station.events.append(event)

        sub = await self.client.create_subscription(20, Handler())
        await sub.subscribe_events(self.vs, self.station_event_type)
        return sub

    async def wait_events(self, n: int) -> list:
        for _ in range(int(WAIT_S / 0.05)):
            if len(self.events) >= n:
                return self.events
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.events)} ResultReady events, expected {n}")


def recipe_id(cls, name: str):
    return cls(Id=name, Version="", Hash=b"", HashAlgorithm="", Description=ua.LocalizedText(""))


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_the_address_space_follows_machine_vision(served):
    async def go():
        async with Client(served.url, timeout=CLIENT_TIMEOUT_S, watchdog_intervall=CLIENT_TIMEOUT_S) as c:
            s = await Station(c).find()
            assert MV in await c.get_namespace_array()
            assert (await s.vs.read_type_definition()) == ua.NodeId(1003, s.mv)  # VisionSystemType
            names = {(await n.read_browse_name()).to_string() for n in await s.vs.get_children()}
            for component in ("VisionStateMachine", "RecipeManagement", "ResultManagement",
                              "SafetyStateManagement", "SystemState"):
                assert f"{s.mv}:{component}" in names
            state = await s.vsm.get_child(["0:CurrentState"])
            assert (await state.read_value()).Text == "Operational"
            assert await (await state.get_child(["0:Id"])).read_value() == ua.NodeId(5031, s.mv)
            auto_state = await s.auto.get_child(["0:CurrentState"])
            assert (await auto_state.read_value()).Text == "Ready"
            recipes = await s.rm.get_child([f"{s.mv}:Recipes"])
            assert {(await n.read_browse_name()).Name for n in await recipes.get_children()} == {
                "product_ok", "product_nok"}
            listed = await s.call(s.rm, "GetRecipeListFiltered", recipe_id(ua.RecipeIdExternalDataType, ""),
                                  ua.ProductIdDataType(Id=""), ua.Variant(2, ua.VariantType.Int32),
                                  ua.Variant(0, ua.VariantType.UInt32), ua.Variant(0, ua.VariantType.UInt32),
                                  ua.Variant(0, ua.VariantType.Int32))
            assert listed[0] is True and [r.Id for r in listed[3]] == ["product_nok", "product_ok"]
            assert [r.Version for r in listed[3]] == ["2", ""]

    run(go())
    own = served.root / "pki" / "own"
    assert (own / "key.pem").stat().st_mode & 0o777 == 0o600
    thumbprint = hashlib.sha1((own / "cert.der").read_bytes()).hexdigest()  # noqa: S324 - OPC UA's thumbprint
    assert f"certificate thumbprint {thumbprint}" in served.stderr_path.read_text()


def test_prepare_each_recipe_then_start_a_job_result_ready_matches_the_csv_row(served):
    async def go():
        async with Client(served.url, timeout=CLIENT_TIMEOUT_S, watchdog_intervall=CLIENT_TIMEOUT_S) as c:
            s = await Station(c).find()
            await s.subscribe()
            for name, verdict, state in (("product_nok", "NOK", -1), ("product_ok", "OK", 1)):
                internal, completed, error = await s.prepare(name)
                assert (internal.Id, completed, error) == (name, True, 0)
                job, error = await s.start_job(part=f"P-{name}")
                assert error == 0 and job.Id.startswith("station-1-job-")
                event = (await s.wait_events(1)).pop()
                assert (event.Verdict, event.ResultState, event.JobId.Id) == (verdict, state, job.Id)
                assert (event.Recipe, event.InternalRecipeId.Id, event.PartId.Id) == (name, name, f"P-{name}")
                row = next(r for r in rows(served) if r["cycle_id"] == event.CycleId)
                assert (row["verdict"], row["recipe"], row["trigger"]) == (verdict, name, "opcua")
                assert row["missing_slots"] == event.MissingSlots
                assert row["recipe_version"] == ("2" if name == "product_nok" else "")
                got = await s.call(s.res, "GetResultById", ua.ResultIdDataType(Id=event.CycleId),
                                   ua.Variant(0, ua.VariantType.Int32))
                assert (got[1].ResultId.Id, got[1].ResultState) == (event.CycleId, state)
            switches = audit(served, "product")
            assert [(a["user"], a["new"]) for a in switches[-2:]] == [("opcua", "product_nok v2"),
                                                                     ("opcua", "product_ok")]

    run(go())


def test_twenty_jobs_from_four_clients_refused_ones_counted_each_cycle_one_row(served):
    before = len(rows(served))

    async def client(n: int) -> list:
        async with Client(served.url, timeout=CLIENT_TIMEOUT_S, watchdog_intervall=CLIENT_TIMEOUT_S) as c:
            s = await Station(c).find()
            out = []
            for _ in range(5):
                try:
                    out.append(("ok", (await s.start_job(part=f"C{n}"))[0].Id))
                except ua.UaStatusCodeError as exc:
                    out.append(("refused", exc.code))
            return out

    async def go():
        async with Client(served.url, timeout=CLIENT_TIMEOUT_S, watchdog_intervall=CLIENT_TIMEOUT_S) as c:
            s = await Station(c).find()
            counters = await s.vs.get_child(["1:Statistics"])
            refused_before = await (await counters.get_child(["1:TriggersRefused"])).read_value()
            answers = [a for part in await asyncio.gather(*(client(n) for n in range(4))) for a in part]
            accepted = [a for a in answers if a[0] == "ok"]
            refused = [a for a in answers if a[0] == "refused"]
            assert len(answers) == 20 and accepted
            assert {code for _, code in refused} <= {ua.StatusCodes.BadInvalidState}
            for _ in range(int(WAIT_S / 0.05)):  # every accepted job becomes one row
                if len(rows(served)) - before >= len(accepted):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            assert len(rows(served)) - before == len(accepted)
            refused_after = await (await counters.get_child(["1:TriggersRefused"])).read_value()
            assert refused_after - refused_before == len(refused)

    run(go())


def test_a_recipe_switch_over_opcua_changes_threshold_and_exposure_and_is_audited(served):
    async def setup(s):
        folder = await s.vs.get_child(["1:SetUp"])
        return {name: await (await folder.get_child([f"1:{name}"])).read_value()
                for name in ("ExposureTimeUs", "ModelConfidence", "Recipe", "RecipeVersion")}

    async def go():
        async with Client(served.url, timeout=CLIENT_TIMEOUT_S, watchdog_intervall=CLIENT_TIMEOUT_S) as c:
            s = await Station(c).find()
            before = await setup(s)
            assert (before["Recipe"], before["ModelConfidence"]) == ("product_ok", 0.25)
            await s.prepare("product_nok")
            after = await setup(s)
            assert (after["Recipe"], after["RecipeVersion"], after["ModelConfidence"]) == ("product_nok", "2", 0.55)
            assert after["ExposureTimeUs"] == 12000.0 != before["ExposureTimeUs"]  # the emulator's node
            await s.prepare("product_ok")
            assert (await setup(s))["ExposureTimeUs"] == before["ExposureTimeUs"]

    run(go())
    switches = audit(served, "product")
    assert [(a["user"], a["new"]) for a in switches[-2:]] == [("opcua", "product_nok v2"), ("opcua", "product_ok")]


def test_sign_and_encrypt_with_a_trusted_and_an_untrusted_certificate(served):
    async def connect(cert, key, uri, user="eng", password=PASSWORD):
        c = Client(served.url, timeout=CLIENT_TIMEOUT_S, watchdog_intervall=CLIENT_TIMEOUT_S)
        c.application_uri = uri
        await c.set_security_string(f"Basic256Sha256,SignAndEncrypt,{cert},{key}")
        c.set_user(user)
        c.set_password(password)
        return c

    async def go():
        c = await connect(*served.trusted)
        async with c:
            s = await Station(c).find()
            assert (await s.prepare("product_ok"))[2] == 0  # an engineer may switch
        c = await connect(*served.untrusted)
        with pytest.raises(Exception) as refused:  # noqa: PT011 - asyncua's own error types
            async with c:
                pass
        assert "BadCertificateUntrusted" in repr(refused.value), repr(refused.value)
        stranger = hashlib.sha1(served.untrusted[0].read_bytes()).hexdigest()  # noqa: S324 - the thumbprint
        assert [p.name for p in (served.root / "pki" / "rejected").glob("*.der")] == [f"{stranger}.der"]

    run(go())


def test_a_wrong_password_and_an_operator_calling_an_engineer_method_are_refused(served):
    async def go():
        c = Client(served.url, timeout=CLIENT_TIMEOUT_S, watchdog_intervall=CLIENT_TIMEOUT_S)
        c.set_user("eng-typo")
        c.set_password("wrong")
        with pytest.raises(ua.UaStatusCodeError):
            async with c:
                pass
        c = Client(served.url, timeout=CLIENT_TIMEOUT_S, watchdog_intervall=CLIENT_TIMEOUT_S)
        c.set_user("op")
        c.set_password(PASSWORD)
        async with c:
            s = await Station(c).find()
            with pytest.raises(ua.UaStatusCodeError) as err:
                await s.call(s.vsm, "Halt", ua.Variant(1, ua.VariantType.Int32), "maintenance")
            assert err.value.code == ua.StatusCodes.BadUserAccessDenied
            assert "engineer" in (await s.last_message.read_value())
            assert (await (await s.vsm.get_child(["0:CurrentState"])).read_value()).Text == "Operational"

    run(go())
    failed = [a for a in audit(served, "login") if a["action"] == "failed"]
    assert failed and failed[-1]["target"] == "eng-typo"


def test_halt_by_an_engineer_refuses_jobs_until_reset(served):
    async def go():
        c = Client(served.url, timeout=CLIENT_TIMEOUT_S, watchdog_intervall=CLIENT_TIMEOUT_S)
        c.set_user("eng")
        c.set_password(PASSWORD)
        async with c:
            s = await Station(c).find()
            assert (await s.call(s.vsm, "Halt", ua.Variant(1, ua.VariantType.Int32), "cleaning")) == 0
            assert (await (await s.vsm.get_child(["0:CurrentState"])).read_value()).Text == "Halted"
            with pytest.raises(ua.UaStatusCodeError) as err:
                await s.start_job()
            assert err.value.code == ua.StatusCodes.BadInvalidState
            assert "on hold" in await s.last_message.read_value()
            assert (await s.call(s.vsm, "Reset", ua.Variant(0, ua.VariantType.Int32), "")) == 0
            for _ in range(40):
                if (await (await s.vsm.get_child(["0:CurrentState"])).read_value()).Text == "Operational":
                    break
                await asyncio.sleep(0.05)
            assert (await (await s.vsm.get_child(["0:CurrentState"])).read_value()).Text == "Operational"

    run(go())
