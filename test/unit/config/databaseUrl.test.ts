import { loadConfig } from '../../../src/config';

describe('SCIMFLOW_DATABASE_URL', () => {
  test('given a postgres:// URL, then the directory is on PostgreSQL with the default pool of 10', () => {
    const config = loadConfig({
      SCIMFLOW_DATABASE_URL: 'postgres://scimflow:s3cret@db.internal:5432/scimflow',
    });

    expect(config.database).toEqual({
      url: 'postgres://scimflow:s3cret@db.internal:5432/scimflow',
      poolSize: 10,
    });
  });

  test('given no URL, then the directory is the SQLite file', () => {
    expect(loadConfig({}).database.url).toBeUndefined();
  });

  test.each([
    ['another database', 'mysql://scimflow:s3cret@db.internal/scimflow'],
    ['a URL that does not parse', 'postgres://scimflow:s3cret@db.internal:99999/scimflow'],
  ])('given %s, then the error names the setting and never shows the password', (_, url) => {
    const attempt = () => loadConfig({ SCIMFLOW_DATABASE_URL: url });

    expect(attempt).toThrow(/SCIMFLOW_DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(attempt).not.toThrow(/s3cret/);
  });
});
