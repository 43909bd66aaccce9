import { UnknownReferenceError } from '../../../src/directory/errors';
import {
  appAuthSchema,
  groupInputSchema,
  idSchema,
  roleInputSchema,
  userAttributesSchema,
} from '../../../src/directory/model';
import { isPlainText, nameKey } from '../../../src/directory/names';
import { visibilityString } from '../../../src/temporal/workflowStatus';

describe('when two names are the same (nameKey)', () => {
  test.each([
    ['case', 'Alice@Example.com', 'alice@example.com'],
    ['surrounding whitespace', '  alice ', 'alice'],
    ['precomposed é against e + U+0301 (NFC)', 'Ren\u00e9', 'Rene\u0301'],
    ['fullwidth letters (NFKC)', '\uff21lice', 'alice'],
    ['a zero-width space inside', 'al\u200bice', 'alice'],
    ['ß against ss (full case folding)', 'Stra\u00dfe', 'STRASSE'],
    ['final and medial sigma', '\u039f\u0394\u039f\u03a3', '\u03bf\u03b4\u03bf\u03c3'],
    ['a ligature', '\ufb01nance', 'finance'],
  ])('given %s, then both names have one key', (_, a, b) => {
    expect(nameKey(a)).toBe(nameKey(b));
  });

  test.each([
    ['different letters', 'alice', 'alicia'],
    ['an accent', 'rene', 'ren\u00e9'],
    ['a dotted capital I (Turkish)', '\u0130stanbul', 'istanbul'],
  ])('given %s, then the names stay apart', (_, a, b) => {
    expect(nameKey(a)).not.toBe(nameKey(b));
  });

  test('a key is its own key (the migration and the store agree whatever order they meet a name in)', () => {
    for (const name of ['\uff21lice', 'Stra\u00dfe', 'Rene\u0301', '\u{1F680} Launch']) {
      expect(nameKey(nameKey(name))).toBe(nameKey(name));
    }
  });
});

describe('what a name may contain', () => {
  test.each([
    ['NUL', 'ali\u0000ce'],
    ['CRLF', 'alice\r\nX-Injected: 1'],
    ['TAB', 'ali\tce'],
    ['DEL', 'ali\u007fce'],
    ['a C1 control', 'ali\u0085ce'],
    ['a right-to-left override', 'ali\u202ecod.exe'],
    ['a bidi isolate', 'ali\u2066ce'],
    ['a lone surrogate', 'ali\ud800ce'],
  ])('refuses %s', (_, value) => {
    expect(isPlainText(value)).toBe(false);
  });

  test.each([
    ['accents', 'Zoë Ångström'],
    ['Persian with a zero-width non-joiner', '\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645'],
    ['an emoji sequence with a joiner', 'Team \u{1F468}\u200d\u{1F469}\u200d\u{1F467}'],
  ])('accepts %s', (_, value) => {
    expect(isPlainText(value)).toBe(true);
  });
});

describe('the API schemas hold names, ids and credentials to their limits', () => {
  test('a userName is refused with a control character anywhere, even one trimming would remove', () => {
    expect(userAttributesSchema.safeParse({ userName: 'alice\r\n' }).success).toBe(false);
    expect(userAttributesSchema.safeParse({ userName: 'ali\u0000ce' }).success).toBe(false);
    expect(userAttributesSchema.safeParse({ userName: 'alice', title: 'CEO\nCFO' }).success).toBe(false);
  });

  test('a userName is stored trimmed and NFC-normalized, and is at most 256 long', () => {
    expect(userAttributesSchema.parse({ userName: '  Rene\u0301 ' }).userName).toBe('Ren\u00e9');
    expect(userAttributesSchema.safeParse({ userName: 'a'.repeat(256) }).success).toBe(true);
    expect(userAttributesSchema.safeParse({ userName: 'a'.repeat(257) }).success).toBe(false);
  });

  test('group and role names follow the same rule', () => {
    expect(groupInputSchema.safeParse({ displayName: 'Eng\u202e' }).success).toBe(false);
    expect(groupInputSchema.safeParse({ displayName: 'E'.repeat(257) }).success).toBe(false);
    expect(roleInputSchema.safeParse({ name: 'admin\u0000' }).success).toBe(false);
  });

  test('an id is 1–128 of letters, digits and . _ : -', () => {
    expect(idSchema.safeParse('3f1c9a2e-8b1d-4f5e-9c3a-1b2c3d4e5f60').success).toBe(true);
    for (const bad of ['', 'a'.repeat(129), "x' OR 1=1", 'ab\u0000', 'a b', 'a/b']) {
      expect(idSchema.safeParse(bad).success).toBe(false);
    }
    expect(
      groupInputSchema.safeParse({ displayName: 'Eng', memberIds: ['ok', 'x'.repeat(129)] }).success,
    ).toBe(false);
  });

  test('a bearer token is printable ASCII up to 8 KiB; a CRLF or a space in it is refused', () => {
    const jwt = `eyJhbGciOiJIUzI1NiJ9.${'a'.repeat(8000)}.sig_-+/=`;
    expect(appAuthSchema.safeParse({ type: 'bearer', token: jwt }).success).toBe(true);
    for (const token of ['abc\r\nX-Evil: 1', 'abc def', 'abc\u0000', 't\u00f6ken', 'x'.repeat(8193)]) {
      expect(appAuthSchema.safeParse({ type: 'bearer', token }).success).toBe(false);
    }
  });

  test('basic credentials refuse control characters, a colon in the username, and over-long values', () => {
    const basic = (username: string, password: string) =>
      appAuthSchema.safeParse({ type: 'basic', username, password }).success;
    expect(basic('svc', 'pässwörd with spaces')).toBe(true);
    expect(basic('svc\r\n', 'secret')).toBe(false);
    expect(basic('svc', 'sec\nret')).toBe(false);
    expect(basic('svc:admin', 'secret')).toBe(false);
    expect(basic('s'.repeat(257), 'secret')).toBe(false);
    expect(basic('svc', 'p'.repeat(1025))).toBe(false);
  });
});

describe('errors stay short', () => {
  test('given 100,000 unknown ids, then the error names five and counts the rest', () => {
    const ids = Array.from({ length: 100_000 }, (_, n) => `ghost-${n}`);
    const { message } = new UnknownReferenceError('user', ids);
    expect(message).toBe('unknown user ids: ghost-0, ghost-1, ghost-2, ghost-3, ghost-4 and 99995 more');
    expect(new UnknownReferenceError('user', ['ghost']).message).toBe('unknown user id: ghost');
  });
});

describe('a visibility query value', () => {
  test('escapes quotes and backslashes, and refuses control characters it cannot express', () => {
    expect(visibilityString("it's\\")).toBe("'it\\'s\\\\'");
    expect(() => visibilityString('ab\u0000')).toThrow(RangeError);
    expect(() => visibilityString('a\nb')).toThrow(RangeError);
  });
});
