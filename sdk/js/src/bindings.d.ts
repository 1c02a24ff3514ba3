// SPDX-License-Identifier: Apache-2.0
// The component imports src/index.js uses, as componentize-js binds them (wit/step.wit and
// WASI 0.2), for type-checking the SDK.

declare module 'sluice:step/host@0.1.0' {
  export function log(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string): void;
  export function progress(done: bigint, total: bigint, message: string): void;
  export function secret(name: string): string | undefined;
  export function digest(path: string): string;
  export function runInfo(): { run: string; pipeline: string; step: string; remainingMs: bigint };
  export function uncacheable(reason: string): void;
}

declare module 'sluice:step/provenance@0.1.0' {
  export function artifact(path: string): string;
}

declare module 'wasi:filesystem/preopens@0.2.12' {
  type DescriptorType = 'unknown' | 'block-device' | 'character-device' | 'directory' | 'fifo' | 'symbolic-link' | 'regular-file' | 'socket';
  interface DirectoryEntryStream {
    readDirectoryEntry(): { type: DescriptorType; name: string } | undefined;
  }
  interface Descriptor {
    openAt(
      pathFlags: { symlinkFollow?: boolean },
      path: string,
      openFlags: { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean },
      flags: { read?: boolean; write?: boolean },
    ): Descriptor;
    read(length: bigint, offset: bigint): [Uint8Array, boolean];
    write(buffer: Uint8Array, offset: bigint): bigint;
    readDirectory(): DirectoryEntryStream;
    getType(): DescriptorType;
    statAt(pathFlags: { symlinkFollow?: boolean }, path: string): { type: DescriptorType; size: bigint };
  }
  export function getDirectories(): [Descriptor, string][];
}
