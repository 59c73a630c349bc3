/** The npm asl-validator (4.x ships no types): validates an Amazon States Language definition. */
declare module 'asl-validator' {
  /** Validation of one definition; it writes a default QueryLanguage into what it is given. */
  export default function validator(
    definition: object,
    options?: { readonly checkPaths?: boolean; readonly checkArn?: boolean },
  ): { readonly isValid: boolean; readonly errors: readonly unknown[]; errorsText(separator?: string): string };
}
