/** A single-quoted sh word: any text, taken literally. */
export const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** A sh word for text shown to be copied: bare when it holds nothing sh treats specially, else quoted. */
export const shellWord = (text: string) => (/^[\w@%+=:,./-]+$/.test(text) ? text : shellQuote(text));
