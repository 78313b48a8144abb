// drizzle-kit for the PostgreSQL store (issue #17): `npm run db:generate:pg` writes its migrations to drizzle-pg/,
// beside SQLite's drizzle/ (drizzle.config.ts). Both schemas are kept alike by test/pg-schema.test.ts.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/schema-pg.ts',
  out: './drizzle-pg',
});
