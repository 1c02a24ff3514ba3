// SPDX-License-Identifier: Apache-2.0
// @ts-check
// The smallest JavaScript step: returns at once (the per-step overhead of a JavaScript plugin).

import * as sluice from 'sluice-sdk';

export const { describe, describeOptions, run } = sluice.definePlugin({
  describe: () => sluice.pluginInfo('js-noop', '0.0.0', 'Does nothing'),
  run: () => sluice.outcome(),
});
