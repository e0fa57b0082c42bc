// Spanish and English, switchable at any time (C5's staff work in Spanish; Spanish is the
// default). Each screen keeps its own strings beside its code: `const T = { key: { es, en } }`
// and `const t = useText(T)` gives the strings of the current language.
import { useEffect, useState } from "preact/hooks";

export type Lang = "es" | "en";
export type Texts = Record<string, { es: string; en: string }>;

const LANG_KEY = "dispatch.lang";
let lang: Lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "es";
const listeners = new Set<(lang: Lang) => void>();

export function currentLang(): Lang {
  return lang;
}

export function setLang(value: Lang): void {
  lang = value;
  localStorage.setItem(LANG_KEY, value);
  document.documentElement.lang = value;
  for (const listener of listeners) listener(value);
}

export function useLang(): Lang {
  const [value, set] = useState(lang);
  useEffect(() => {
    listeners.add(set);
    return () => void listeners.delete(set);
  }, []);
  return value;
}

export function useText<T extends Texts>(texts: T): { [K in keyof T]: string } {
  const current = useLang();
  return textsIn(texts, current);
}

export function textsIn<T extends Texts>(texts: T, which: Lang): { [K in keyof T]: string } {
  const out = {} as { [K in keyof T]: string };
  for (const key of Object.keys(texts) as (keyof T)[]) out[key] = texts[key][which];
  return out;
}

document.documentElement.lang = lang;
