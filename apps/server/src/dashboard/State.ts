/** The page's state shared by the modules: which view generation is current. */

/** Bumped when the view changes: answers and timers of a view that is gone are dropped. */
let generation = 0

export const generationNow = (): number => generation

/** A new view is mounted: what the old one asked for is dropped. */
export const nextGeneration = (): void => {
  generation++
}
