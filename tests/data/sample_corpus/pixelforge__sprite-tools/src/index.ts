export { packSprites } from "./packer";
export { frameTable, nextPowerOfTwo } from "./atlas";
export type { Atlas, Frame, PackOptions, Sprite } from "./atlas";

import { packSprites } from "./packer";
import { Sprite } from "./atlas";

/** Convenience for tools: pack and report how much of the atlas is filled. */
export function packWithStats(sprites: Sprite[], maxWidth: number) {
  const atlas = packSprites(sprites, { maxWidth, padding: 2, powerOfTwo: true });
  const used = sprites.reduce((sum, s) => sum + s.width * s.height, 0);
  const area = atlas.width * atlas.height;
  return { atlas, fill: area ? used / area : 0 };
}
