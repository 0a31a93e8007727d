/**
 * What the format readers hand to the import engine: one row of the file, as the body an
 * `/identify` request would carry, or the reason it could not be read — always with its line.
 */

/** A row read from the file. `line` is the 1-based line where the row starts. */
export type SourceRecord =
  | { readonly line: number; readonly body: unknown; readonly error?: undefined }
  | { readonly line: number; readonly error: string }

/** The input formats `import` reads. */
export type ImportFormat = 'csv' | 'ndjson' | 'json'

export const IMPORT_FORMATS: readonly ImportFormat[] = ['csv', 'ndjson', 'json']
