# SPDX-License-Identifier: Apache-2.0
"""The smallest Python step: returns at once (the per-step overhead of a Python plugin)."""

import sluice_sdk as sluice


class Noop(sluice.Plugin):
    def describe(self) -> sluice.PluginInfo:
        return sluice.plugin_info("py-noop", "0.0.0", "Does nothing")

    def run(self, invocation: sluice.Invocation) -> sluice.Outcome:
        return sluice.outcome()


WitWorld = sluice.export(Noop)
