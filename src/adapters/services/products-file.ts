/** The admin's products file: which WHMCS products are VoIP services, and how voipbill treats them. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { ProductMapping } from '../../domain/services/service-config';

const productSchema = z.object({
  productId: z.number().int().positive(),
  kind: z.enum(['fusionpbx', 'vodia', 'lesnet']),
  server: z.string().min(1).optional(),
  package: z.string().min(1).optional(),
  suspendMode: z.enum(['gateway', 'extension', 'restrict']).default('gateway'),
  /**
   * What drift repair may switch back on for an active service: `disabled` (default) only what voipbill itself
   * switched off; `all` every item of the service (all of a Gateway-mode tenant's gateways, all listed extensions).
   */
  owns: z.enum(['disabled', 'all']).default('disabled'),
});
const fileSchema = z.object({ products: z.array(productSchema) }).superRefine((f, ctx) => {
  const seen = new Set<number>();
  f.products.forEach((p, i) => {
    if (seen.has(p.productId)) ctx.addIssue({ code: 'custom', path: ['products', i, 'productId'], message: `product ${p.productId} is listed twice` });
    seen.add(p.productId);
  });
});

export class ProductsFileError extends Error {
  override readonly name = 'ProductsFileError';
}

export interface ProductCatalog {
  byId: Map<number, ProductMapping>;
  /** Absolute package path of a product, resolved against the products file. */
  packagePath(product: ProductMapping): string | undefined;
}

export function parseProducts(json: unknown, baseDir: string, origin = 'products file'): ProductCatalog {
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    throw new ProductsFileError(`${origin}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const byId = new Map<number, ProductMapping>();
  for (const { owns, ...p } of parsed.data.products) byId.set(p.productId, { ...p, ...(owns === 'all' ? { owns } : {}) } as ProductMapping);
  return { byId, packagePath: (p) => (p.package ? resolve(baseDir, p.package) : undefined) };
}

export function loadProductsFile(path: string): ProductCatalog {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ProductsFileError(`${path}: ${(err as Error).message}`);
  }
  return parseProducts(json, dirname(resolve(path)), path);
}
