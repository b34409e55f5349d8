/** Gatehouse's own JSON: the inventory as the library returns it. */
import type { SbomInput } from './target.js';

export function writeInventoryJson({ target, inventory, toolVersion }: SbomInput): string {
  return JSON.stringify({ schema: 'gatehouse.inventory/v1', tool: { name: 'gatehouse', version: toolVersion }, target, ...inventory }, null, 2) + '\n';
}
