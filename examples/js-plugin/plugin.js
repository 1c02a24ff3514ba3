// SPDX-License-Identifier: Apache-2.0
// @ts-check
/**
 * A Sluice step that checks a release's changelog entry: CHANGELOG.md (Keep a Changelog style,
 * `## [1.2.0] - 2026-12-01` headings) must have a non-empty section for `version`, and the
 * versions must go newest first. It returns that section as text and as a release-notes
 * artifact, with the `attach` artifact (say, another step's report) appended.
 */

import * as sluice from 'sluice-sdk';

const CONFIG = /** @type {const} */ ({
  changelog: { type: 'string', default: 'CHANGELOG.md', summary: 'the changelog, in the workspace' },
});

const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?$/;
const HEADING = /^##\s+\[?v?([0-9][^\]\s]*)\]?/;

/** @param {string} a @param {string} b */
function compare(a, b) {
  const pa = SEMVER.exec(a);
  const pb = SEMVER.exec(b);
  if (!pa || !pb) return 0;
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d) return d;
  }
  return 0;
}

/** The changelog's sections: version, heading line (1-based) and body. @param {string} text */
function sections(text) {
  /** @type {{ version: string, line: number, body: string[] }[]} */
  const found = [];
  text.split('\n').forEach((line, i) => {
    const m = HEADING.exec(line);
    if (m) found.push({ version: m[1], line: i + 1, body: [] });
    else if (found.length && !line.startsWith('[')) found[found.length - 1].body.push(line);
  });
  return found;
}

const plugin = sluice.definePlugin({
  describe: () =>
    sluice.pluginInfo('changelog', '0.1.0', "Checks a release's changelog entry and returns its notes", {
      inputs: [
        sluice.port('version', 'text', 'The version being released (semver)', { required: true }),
        sluice.port('attach', 'artifact', 'A report to append to the release notes'),
      ],
      outputs: [
        sluice.port('notes', 'text', "The version's changelog section", { required: true }),
        sluice.port('release-notes', 'artifact', 'The section and the attached report, as Markdown', { required: true }),
      ],
      wants: ['fs:read'],
      rules: [
        sluice.rule('changelog/missing-entry', 'missing-entry', 'The changelog has no section for the version', 'error'),
        sluice.rule('changelog/empty-entry', 'empty-entry', "The version's section says nothing", 'error'),
        sluice.rule('changelog/order', 'order', 'A section is older than the one below it', 'warning'),
      ],
      options: sluice.options(CONFIG),
    }),

  run(invocation) {
    const { changelog } = invocation.config(CONFIG);
    const version = invocation.text('version') ?? '';
    if (!SEMVER.test(version)) {
      throw sluice.Failure.invalid(`input \`version\` is ${JSON.stringify(version)}: give a semantic version such as "1.2.0"`);
    }
    let text;
    try {
      text = sluice.readText(sluice.workspacePath(changelog));
    } catch (e) {
      throw sluice.Failure.invalid(`cannot read \`${changelog}\` (${e instanceof Error ? e.message : e}): grant it with \`read = ["${changelog}"]\` in the step's \`allow\` table`);
    }
    const all = sections(text);
    const findings = [];
    for (let i = 1; i < all.length; i++) {
      if (compare(all[i - 1].version, all[i].version) < 0) {
        findings.push(
          sluice.finding('changelog/order', 'warning', `${all[i - 1].version} is listed above ${all[i].version}, which is newer`, {
            span: sluice.span(changelog, all[i - 1].line),
          }),
        );
      }
    }
    const entry = all.find((s) => s.version === version);
    const notes = entry ? entry.body.join('\n').trim() : '';
    if (!entry) {
      findings.push(sluice.finding('changelog/missing-entry', 'error', `${changelog} has no section for ${version}: add \`## [${version}]\``, { span: sluice.span(changelog, 1) }));
    } else if (!notes) {
      findings.push(sluice.finding('changelog/empty-entry', 'error', `the section for ${version} is empty`, { span: sluice.span(changelog, entry.line) }));
    }
    let release = `# Release ${version}\n\n${notes}\n`;
    const attached = invocation.artifact('attach');
    if (attached) {
      release += `\n${sluice.readText(attached.path).replace(/^# /m, '## ')}`;
      sluice.info(`attached ${attached.path} (${attached.digest})`);
    }
    const result = sluice.outcome(entry ? `${version}: ${notes.split('\n').filter((l) => l.trim()).length} lines of notes` : `no notes for ${version}`, {
      outputs: { notes, 'release-notes': sluice.writeArtifact('release-notes.md', release, 'text/markdown') },
      findings,
    });
    if (findings.some((f) => f.severity === 'error')) throw sluice.Failure.gate(result);
    return result;
  },
});

export const { describe, describeOptions, run } = plugin;
