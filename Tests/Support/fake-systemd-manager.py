#!/usr/bin/env python3
"""A stand-in for systemd's manager on a private D-Bus bus, for hosts where PID 1 is not systemd.

It speaks the real protocol: it owns org.freedesktop.systemd1 and exports, at /org/freedesktop/systemd1,
org.freedesktop.systemd1.Manager's StartUnit, StopUnit, RestartUnit, ReloadUnit (s name, s mode) -> o job,
ResetFailedUnit(s), LoadUnit(s) -> o and ListUnitsFiltered(as states) -> a(ssssssouso), and for each unit an object
with org.freedesktop.systemd1.Unit's ActiveState and LoadState, its dependency lists (Requires, RequiredBy, BindsTo,
BoundBy, ConsistsOf, Conflicts, ... as systemd names them) and its emergency actions (SuccessAction, FailureAction,
StartLimitAction, JobTimeoutAction), read through org.freedesktop.DBus.Properties, as sd-bus does.

Units:
  --unit NAME -- COMMAND...   a unit that runs COMMAND; a restart kills its process group and starts it again
  --simulate NAME=STATE       a unit with no process, in STATE (active, inactive or failed)
  --broken NAME               a simulated unit that fails whenever it is started or restarted
  --relation "A PROPERTY B"   A's PROPERTY lists B, and B the reverse as systemd keeps it ("sshd.service Requires
                              app.service" also makes app.service RequiredBy sshd.service); unknown units are
                              simulated, inactive
  --property "A NAME=VALUE"   a string property (LoadState=masked, FailureAction=reboot)
Each event is one line on stdout: "ready", "started PID", "CALL METHOD NAME [MODE]".

usage: fake-systemd-manager.py --bus ADDRESS [--unit NAME] [--simulate NAME=STATE]... [--broken NAME]...
                               [--relation "A PROPERTY B"]... [--property "A NAME=VALUE"]... [-- COMMAND...]
"""
import argparse
import asyncio
import os
import signal
import subprocess

from dbus_next import DBusError
from dbus_next.aio import MessageBus
from dbus_next.service import ServiceInterface, dbus_property, method, PropertyAccess


def object_path(name):
    """systemd's escaping of a unit name into an object path element."""
    escaped = "".join(c if c.isalnum() else "_%02x" % ord(c) for c in name)
    return "/org/freedesktop/systemd1/unit/" + escaped


# The dependency properties exported, with the property systemd keeps on the other unit.
REVERSE = {
    "Requires": "RequiredBy", "BindsTo": "BoundBy", "PartOf": "ConsistsOf", "Conflicts": "ConflictedBy",
    "Wants": "WantedBy", "Upholds": "UpheldBy", "PropagatesReloadTo": "ReloadPropagatedFrom",
    "PropagatesStopTo": "StopPropagatedFrom", "OnFailure": "OnFailureOf", "OnSuccess": "OnSuccessOf",
}
REVERSE.update({reverse: forward for forward, reverse in list(REVERSE.items())})
LIST_PROPERTIES = ["Requires", "Wants", "BindsTo", "Upholds", "OnFailure", "OnSuccess", "RequiredBy", "BoundBy",
                   "ConsistsOf", "PropagatesStopTo", "PropagatesReloadTo", "Conflicts", "ConflictedBy"]
STRING_PROPERTIES = {"LoadState": "loaded", "SuccessAction": "none", "FailureAction": "none",
                     "StartLimitAction": "none", "JobTimeoutAction": "none"}


class UnitProperties:
    def __init__(self):
        self.lists = {}
        self.strings = dict(STRING_PROPERTIES)


class CommandUnit(UnitProperties):
    def __init__(self, command):
        super().__init__()
        self.command = command
        self.process = None

    def start(self):
        self.process = subprocess.Popen(self.command, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"started {self.process.pid}", flush=True)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @property
    def state(self):
        return "active" if self.process and self.process.poll() is None else "inactive"

    def restart(self):
        self.stop()
        self.start()


class SimulatedUnit(UnitProperties):
    def __init__(self, state, broken=False):
        super().__init__()
        self._state = state
        self.broken = broken

    @property
    def state(self):
        return self._state

    def start(self):
        self._state = "failed" if self.broken else "active"

    def restart(self):
        self.start()

    def stop(self):
        self._state = "inactive"


class UnitObject(ServiceInterface):
    def __init__(self, unit):
        super().__init__("org.freedesktop.systemd1.Unit")
        self.unit = unit

    @dbus_property(access=PropertyAccess.READ)
    def ActiveState(self) -> "s":
        return self.unit.state


def list_property(name):
    def getter(self) -> "as":
        return self.unit.lists.get(name, [])
    getter.__name__ = name  # dbus-next looks the getter up by its name
    return dbus_property(access=PropertyAccess.READ, name=name)(getter)


def string_property(name):
    def getter(self) -> "s":
        return self.unit.strings[name]
    getter.__name__ = name
    return dbus_property(access=PropertyAccess.READ, name=name)(getter)


for _name in LIST_PROPERTIES:
    setattr(UnitObject, _name, list_property(_name))
for _name in STRING_PROPERTIES:
    setattr(UnitObject, _name, string_property(_name))


class Manager(ServiceInterface):
    def __init__(self, units):
        super().__init__("org.freedesktop.systemd1.Manager")
        self.units = units
        self.jobs = 0

    def _unit(self, name):
        if name not in self.units:
            raise DBusError("org.freedesktop.systemd1.NoSuchUnit", f"Unit {name} not found.")
        return self.units[name]

    def _job(self):
        self.jobs += 1
        return f"/org/freedesktop/systemd1/job/{self.jobs}"

    @method()
    def StartUnit(self, name: "s", mode: "s") -> "o":
        print(f"CALL StartUnit {name} {mode}", flush=True)
        unit = self._unit(name)
        if unit.state != "active":
            unit.start()
        return self._job()

    @method()
    def StopUnit(self, name: "s", mode: "s") -> "o":
        print(f"CALL StopUnit {name} {mode}", flush=True)
        self._unit(name).stop()
        return self._job()

    @method()
    def RestartUnit(self, name: "s", mode: "s") -> "o":
        print(f"CALL RestartUnit {name} {mode}", flush=True)
        self._unit(name).restart()
        return self._job()

    @method()
    def ReloadUnit(self, name: "s", mode: "s") -> "o":
        print(f"CALL ReloadUnit {name} {mode}", flush=True)
        unit = self._unit(name)
        if unit.state != "active":
            raise DBusError("org.freedesktop.systemd1.UnitInactive", f"Unit {name} is not active.")
        return self._job()

    @method()
    def ResetFailedUnit(self, name: "s"):
        print(f"CALL ResetFailedUnit {name}", flush=True)
        unit = self._unit(name)
        if unit.state == "failed":
            unit._state = "inactive"

    @method()
    def ListUnitsFiltered(self, states: "as") -> "a(ssssssouso)":
        return [[name, "", "loaded", unit.state, unit.state, "", object_path(name), 0, "", "/"]
                for name, unit in sorted(self.units.items()) if unit.state in states]

    @method()
    def LoadUnit(self, name: "s") -> "o":
        self._unit(name)
        return object_path(name)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bus", required=True)
    parser.add_argument("--unit")
    parser.add_argument("--simulate", action="append", default=[])
    parser.add_argument("--broken", action="append", default=[])
    parser.add_argument("--relation", action="append", default=[])
    parser.add_argument("--property", action="append", default=[])
    parser.add_argument("command", nargs="*")
    args = parser.parse_args()
    units = {}
    if args.unit:
        units[args.unit] = CommandUnit(args.command)
    for spec in args.simulate:
        name, state = spec.split("=", 1)
        units[name] = SimulatedUnit(state, broken=name in args.broken)
    for spec in args.relation:
        first, prop, second = spec.split()
        for name in (first, second):
            units.setdefault(name, SimulatedUnit("inactive"))
        units[first].lists.setdefault(prop, []).append(second)
        units[second].lists.setdefault(REVERSE[prop], []).append(first)
    for spec in args.property:
        name, assignment = spec.split(" ", 1)
        prop, value = assignment.split("=", 1)
        units.setdefault(name, SimulatedUnit("inactive")).strings[prop] = value
    bus = await MessageBus(bus_address=args.bus).connect()
    bus.export("/org/freedesktop/systemd1", Manager(units))
    for name, unit in units.items():
        bus.export(object_path(name), UnitObject(unit))
    await bus.request_name("org.freedesktop.systemd1")
    if args.unit:
        units[args.unit].start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for unit in units.values():
        unit.stop()


if __name__ == "__main__":
    asyncio.run(main())
