/**
 * A POSIX shell script without its comments, blank lines and indentation:
 * what a node needs of it, a sixth smaller (node cloud-init's user-data must
 * fit EC2's 16 KiB). Only what the shell reads as nothing goes: comment and
 * blank lines and leading blanks outside quotes, here-documents and
 * backslash continuations, and a comment after code. Everything else is
 * kept byte for byte, so the script means exactly what it did;
 * test/unit/shellcompact.test.ts has bash's parser confirm it.
 */
export function dropCommentLines(script: string): string {
  const kept: string[] = [];
  // Where the reader is: at the top level, in a command substitution (or a
  // parenthesis inside one), or in single or double quotes; nested as written.
  const stack: ("top" | "cmd" | "paren" | "'" | '"')[] = ["top"];
  let continued = false;
  // Here-documents named on a line start after it, one after another.
  const pending: { word: string; tabs: boolean }[] = [];
  let heredoc: { word: string; tabs: boolean } | undefined;
  script.split("\n").forEach((line, index) => {
    if (heredoc) {
      kept.push(line);
      if ((heredoc.tabs ? line.replace(/^\t+/, "") : line) === heredoc.word) heredoc = pending.shift();
      return;
    }
    const bare = line.trim();
    if (index === 0 && line.startsWith("#!")) return void kept.push(line);
    const outside = !["'", '"'].includes(stack[stack.length - 1]!);
    if (stack.length === 1 && !continued && (bare === "" || bare.startsWith("#"))) return;
    // Indentation outside quotes is only for the reader.
    if (outside) line = line.replace(/^[ \t]+/, "");
    continued = false;
    let end = line.length;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      const where = stack[stack.length - 1]!;
      if (where === "'") {
        if (c === "'") stack.pop();
      } else if (where === '"') {
        if (c === "\\") i++;
        else if (c === '"') stack.pop();
        else if (c === "$" && line[i + 1] === "(") stack.push("cmd"), i++;
      } else if (c === "\\") {
        if (i === line.length - 1) continued = true;
        i++;
      } else if (c === "'" || c === '"') {
        stack.push(c);
      } else if (c === "$" && line[i + 1] === "(") {
        stack.push("cmd");
        i++;
      } else if (c === "(" && where !== "top") {
        stack.push("paren");
      } else if (c === ")" && where !== "top") {
        stack.pop();
      } else if (c === "#" && (i === 0 || /[\s;&|()]/.test(line[i - 1]!))) {
        end = i; // a comment to the end of the line
        break;
      } else if (c === "<" && line[i + 1] === "<" && line[i + 2] !== "<") {
        const match = /^<<(-?)[ \t]*('([^']*)'|"([^"]*)"|([^\s;&|<>()]+))/.exec(line.slice(i));
        if (!match) throw new Error(`dropCommentLines: a here-document it cannot read on line ${index + 1}: ${line}`);
        pending.push({ word: match[3] ?? match[4] ?? match[5]!.replace(/\\/g, ""), tabs: match[1] === "-" });
        i += match[0].length - 1;
      }
    }
    // A comment after code goes too (with the blanks before it).
    kept.push(end < line.length ? line.slice(0, end).replace(/[ \t]+$/, "") : line);
    if (!heredoc) heredoc = pending.shift();
  });
  if (stack.length !== 1 || heredoc) throw new Error("dropCommentLines: the script ends inside a quote, a command substitution or a here-document");
  return kept.join("\n");
}
