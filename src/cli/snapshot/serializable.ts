// Bundled first by scripts/snapshot.js, so it runs before any other module.
// V8 cannot serialize ICU objects into a startup snapshot, and string-width
// (under yargs' cliui) makes an Intl.Segmenter when it loads. While the
// snapshot is built, Segmenters are made lazily: the ICU object is created
// on first use, after the snapshot has been deserialized; the warm-up's
// (warmup.ts) are dropped before the snapshot is taken.
const IcuSegmenter = Intl.Segmenter;
type SegmenterArgs = ConstructorParameters<typeof Intl.Segmenter>;

class LazySegmenter {
  /** Every one made while the snapshot is built, to drop their ICU objects before it is taken. */
  static readonly #made = new Set<LazySegmenter>();
  readonly #args: SegmenterArgs;
  #real: Intl.Segmenter | undefined;
  constructor(...args: SegmenterArgs) {
    this.#args = args;
    LazySegmenter.#made.add(this);
  }
  static dropIcuObjects(): void {
    for (const segmenter of LazySegmenter.#made) segmenter.#real = undefined;
    LazySegmenter.#made.clear();
  }
  get #segmenter(): Intl.Segmenter {
    return (this.#real ??= new IcuSegmenter(...this.#args));
  }
  segment(input: string): Intl.Segments {
    return this.#segmenter.segment(input);
  }
  resolvedOptions(): Intl.ResolvedSegmenterOptions {
    return this.#segmenter.resolvedOptions();
  }
}

(Intl as { Segmenter: unknown }).Segmenter = LazySegmenter;

/** Puts the real Intl.Segmenter back once every module has loaded and the warm-up is done, and drops the ICU objects made meanwhile. */
export function restoreIntl(): void {
  LazySegmenter.dropIcuObjects();
  (Intl as { Segmenter: unknown }).Segmenter = IcuSegmenter;
}
