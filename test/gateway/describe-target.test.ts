import { describe, expect, it } from 'vitest';
import { describeTarget } from '../../gateway/db/sql.ts';

describe('describeTarget: a database URL as logs and messages show it', () => {
  it('masks the password, in the URL and in libpq-style parameters, and keeps the rest', () => {
    expect(describeTarget('postgres://tumbler:s3cret@db.example.net:5432/tumbler')).toBe(
      'postgres://tumbler:***@db.example.net:5432/tumbler',
    );
    const shown = describeTarget(
      'postgres://tumbler@db/tumbler?password=s3cret&sslmode=require&sslpassword=k3y',
    );
    expect(shown).not.toContain('s3cret');
    expect(shown).not.toContain('k3y');
    expect(shown).toContain('sslmode=require');
    expect(describeTarget('/var/lib/tumbler/gateway.db')).toBe('/var/lib/tumbler/gateway.db');
  });
});
