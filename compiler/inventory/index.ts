export * from './model.js';
export { loadInventory, readInventory, type InventoryResult } from './load.js';
