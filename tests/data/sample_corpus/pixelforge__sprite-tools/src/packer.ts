import { Atlas, Frame, PackOptions, Sprite, nextPowerOfTwo } from "./atlas";

interface Shelf {
  y: number;
  height: number;
  cursorX: number;
}

/**
 * Shelf packing: tallest sprites first, each placed on the first shelf with
 * room, or on a new shelf below the last one. Ties are broken by name so the
 * same input always gives the same atlas.
 */
export function packSprites(sprites: Sprite[], options: PackOptions): Atlas {
  const padding = options.padding ?? 1;
  const order = [...sprites].sort((a, b) => b.height - a.height || a.name.localeCompare(b.name));
  const shelves: Shelf[] = [];
  const frames: Frame[] = [];
  let usedWidth = 0;

  for (const sprite of order) {
    const w = sprite.width + padding;
    const h = sprite.height + padding;
    if (w > options.maxWidth) {
      throw new RangeError(`${sprite.name} is wider than maxWidth (${sprite.width} > ${options.maxWidth})`);
    }
    let shelf = shelves.find((s) => s.cursorX + w <= options.maxWidth && h <= s.height);
    if (!shelf) {
      const last = shelves[shelves.length - 1];
      shelf = { y: last ? last.y + last.height : 0, height: h, cursorX: 0 };
      shelves.push(shelf);
    }
    frames.push({ name: sprite.name, x: shelf.cursorX, y: shelf.y, width: sprite.width, height: sprite.height });
    shelf.cursorX += w;
    usedWidth = Math.max(usedWidth, shelf.cursorX);
  }

  const last = shelves[shelves.length - 1];
  let width = usedWidth;
  let height = last ? last.y + last.height : 0;
  if (options.powerOfTwo) {
    width = nextPowerOfTwo(width);
    height = nextPowerOfTwo(height);
  }
  return { width, height, frames };
}
