// @ts-check
/// <reference lib="dom" />
// The page's elements. Every string that came from an event (paths, addresses,
// agents, hosts, topics) goes on the page as text (textContent), never as HTML.

/**
 * The element with `id`; the page has every id this script asks for.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function $(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node;
}

/**
 * The table with `id`.
 * @param {string} id
 * @returns {HTMLTableElement}
 */
export function table(id) {
  return /** @type {HTMLTableElement} */ ($(id));
}

/**
 * An element with a class and text; text is always text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {unknown} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}
