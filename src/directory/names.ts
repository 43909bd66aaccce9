/**
 * What a name may contain, and when two names are the same: one place for userName, displayName and role names,
 * used by the API's schemas, the store's unique keys and look-ups, and the migration that recomputed the keys.
 */

/**
 * C0 controls (NUL, TAB, CR, LF…), DEL and C1 controls never belong in a name or a credential: a CRLF in a value
 * that ends up in an HTTP header splits it, a NUL cuts it short in C code and visibility queries. The bidi
 * embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) make a name read as something it is not
 * ("Trojan Source", CVE-2021-42574); other format characters stay allowed, since Persian names need U+200C and
 * emoji sequences U+200D.
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;
const bidiControls = /[\u202a-\u202e\u2066-\u2069]/;
/** Half of a surrogate pair without the other half is not text: it cannot be written as UTF-8. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const hasControlCharacters = (value: string) => controlCharacters.test(value);

/** Whether a credential (token, username, password) is safe to put in a header: no control characters, well formed. */
export const isCredentialText = (value: string) =>
  !controlCharacters.test(value) && !loneSurrogate.test(value);

/** Whether a value is text a person reads in one line: no control characters, no bidi overrides, well formed. */
export const isPlainText = (value: string) =>
  !controlCharacters.test(value) && !bidiControls.test(value) && !loneSurrogate.test(value);

/** Default-ignorable code points (zero-width space and joiners, soft hyphen, BOM…) render as nothing. */
const invisible = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * The key under which a userName, group displayName or role name is unique and looked up: two names a person
 * cannot tell apart get the same key. It approximates Unicode's NFKC_Casefold, the form UAX #31 recommends for
 * caseless identifier matching: compatibility-normalized (`Ａlice` with a fullwidth A is `alice`; `é` precomposed
 * and `e` + U+0301 are one), invisible code points dropped, case-folded.
 *
 * JavaScript has no case folding. Upper- then lower-casing stands in for it, and folds what `toLowerCase` alone
 * would not: `ß` and `ẞ` become `ss` (so `Straße` and `STRASSE` are one name, as the case-insensitive collations
 * of SQL Server and MySQL hold them), `ſ` becomes `s`, `ﬁ` becomes `fi`; it also folds the dotless `ı` into `i`,
 * which case folding keeps apart. That is stricter than RFC 7643's "case insensitive" on purpose: two directory
 * users a target could take for one would end up linked to one remote user. The stored name itself is kept as
 * given (NFC-normalized by the API).
 */
export function nameKey(name: string): string {
  return name.trim().normalize('NFKC').replace(invisible, '').toUpperCase().toLowerCase().normalize('NFKC');
}
