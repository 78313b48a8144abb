// drizzle-kit config for the witness database (src/witness/schema.ts → drizzle-witness/).
// Generate migrations with: npx drizzle-kit generate --config drizzle.witness.config.ts
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/witness/schema.ts',
  out: './drizzle-witness',
});
