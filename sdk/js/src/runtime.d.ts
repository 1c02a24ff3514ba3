// SPDX-License-Identifier: Apache-2.0
// The web APIs componentize-js's runtime (StarlingMonkey) gives a plugin that the SDK and the
// plugins here use. fetch() needs a plugin built with `build-plugin --http` and an `allow.net`
// grant; without them it throws.

declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
declare function structuredClone<T>(value: T): T;
interface FetchResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}
declare function fetch(
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array },
): Promise<FetchResponse>;
declare const console: { log(...data: unknown[]): void; error(...data: unknown[]): void };
