export interface Sprite {
  name: string;
  width: number;
  height: number;
}

export interface Frame {
  name: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Atlas {
  width: number;
  height: number;
  frames: Frame[];
}

export interface PackOptions {
  maxWidth: number;
  padding?: number;
  powerOfTwo?: boolean;
}

export function nextPowerOfTwo(value: number): number {
  let result = 1;
  while (result < value) {
    result *= 2;
  }
  return result;
}

export function frameTable(atlas: Atlas): Record<string, Omit<Frame, "name">> {
  const table: Record<string, Omit<Frame, "name">> = {};
  for (const { name, ...rect } of atlas.frames) {
    if (name in table) {
      throw new Error(`duplicate sprite name: ${name}`);
    }
    table[name] = rect;
  }
  return table;
}
