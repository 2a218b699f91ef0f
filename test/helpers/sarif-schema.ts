import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

let validator: ValidateFunction | undefined;

/** A validator for the OASIS SARIF 2.1.0 schema, whose only installable copy is in @microsoft/sarif-multitool-linux. */
export function sarifValidator(): ValidateFunction {
  if (validator) return validator;
  let schemaFile: string;
  try {
    schemaFile = createRequire(import.meta.url).resolve('@microsoft/sarif-multitool-linux/sarif-2.1.0.json');
  } catch (error) {
    throw new Error('the SARIF 2.1.0 schema comes from the optional npm package @microsoft/sarif-multitool-linux (Linux only): run `npm ci` on Linux', { cause: error });
  }
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return (validator = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')) as object));
}
