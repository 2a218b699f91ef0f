import { InputError } from '../inputs';

/**
 * Splits a command line given in an input into argv, as a POSIX shell would split words and quotes,
 * without a shell: no variables, globs, pipes or redirections, so nothing in it is interpreted.
 */
export function splitCommandLine(input: string, value: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === "'") {
      const end = value.indexOf("'", i + 1);
      if (end < 0) throw new InputError(input, value, 'a command with balanced quotes');
      word += value.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < value.length && value[j] !== '"'; j++) {
        if (value[j] === '\\' && (value[j + 1] === '"' || value[j + 1] === '\\')) j++;
        word += value[j];
      }
      if (j >= value.length) throw new InputError(input, value, 'a command with balanced quotes');
      inWord = true;
      i = j;
    } else if (c === '\\' && i + 1 < value.length) {
      word += value[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (/[|&;<>$`]/.test(c)) {
      throw new InputError(input, value, `a plain command and its arguments; it is run without a shell, so '${c}' would not do what it does in one (quote it to pass it literally)`);
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  if (words.length === 0) throw new InputError(input, value, 'a command, e.g. `nginx -s reload`');
  return words;
}
