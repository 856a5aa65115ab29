/** Prints the README's configuration table from the schema, so the two never drift (a test compares them). */
import { configSchema } from '../src/config';

export function configTable(): string {
  const rows = Object.entries(configSchema.shape).map(([name, schema]) => {
    const s = schema as { description?: string; def?: unknown; _zod?: { def?: { defaultValue?: unknown; type?: string; innerType?: unknown } } };
    const def = s._zod?.def;
    let fallback = '';
    if (def?.type === 'default') {
      const v = (def as { defaultValue?: unknown }).defaultValue;
      fallback = typeof v === 'function' ? String((v as () => unknown)()) : String(v);
    }
    return `| \`${name}\` | ${fallback ? `\`${fallback}\`` : '(unset)'} | ${s.description ?? ''} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

if (require.main === module) console.log(configTable());
