#!/usr/bin/env python3
"""A stand-in for systemd's manager on a private D-Bus bus, for hosts where PID 1 is not systemd.

It speaks the real protocol: it owns org.freedesktop.systemd1 and exports
org.freedesktop.systemd1.Manager.RestartUnit(s name, s mode) -> o job at /org/freedesktop/systemd1.
It runs one "unit" (the command after --) and restarts it when asked: SIGKILL to the process group, then
start again. Each event is one line on stdout: "started PID", "RestartUnit NAME MODE".

usage: fake-systemd-manager.py --bus ADDRESS --unit NAME -- COMMAND [ARG...]
"""
import argparse
import asyncio
import os
import signal
import subprocess
import sys

from dbus_next import DBusError
from dbus_next.aio import MessageBus
from dbus_next.service import ServiceInterface, method


class Unit:
    def __init__(self, command):
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


class Manager(ServiceInterface):
    def __init__(self, unit_name, unit):
        super().__init__("org.freedesktop.systemd1.Manager")
        self.unit_name = unit_name
        self.unit = unit
        self.jobs = 0

    @method()
    def RestartUnit(self, name: "s", mode: "s") -> "o":
        print(f"RestartUnit {name} {mode}", flush=True)
        if name != self.unit_name:
            raise DBusError("org.freedesktop.systemd1.NoSuchUnit", f"Unit {name} not found.")
        self.unit.stop()
        self.unit.start()
        self.jobs += 1
        return f"/org/freedesktop/systemd1/job/{self.jobs}"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bus", required=True)
    parser.add_argument("--unit", required=True)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    unit = Unit(args.command)
    bus = await MessageBus(bus_address=args.bus).connect()
    bus.export("/org/freedesktop/systemd1", Manager(args.unit, unit))
    await bus.request_name("org.freedesktop.systemd1")
    unit.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    unit.stop()


if __name__ == "__main__":
    asyncio.run(main())
