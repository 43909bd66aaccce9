// A unit test answers in seconds; one that hangs should say so well before the integration suites' two minutes.
jest.setTimeout(30_000);
