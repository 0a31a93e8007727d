/**
 * Confirmation in a real modal <dialog>, not window.confirm: it says what will happen in the
 * console's words, keeps focus inside while open, Escape cancels, Enter confirms (the confirm
 * button has focus, or the typed confirmation is submitted), and focus returns where it was.
 */
import { h } from './dom.js'

/**
 * @example
 * if (await confirmAction({ title: 'Delete contact #2?', body: '…', confirmLabel: 'Delete contact' })) …
 *
 * @param {{ title: string, body: (string | Node)[], confirmLabel: string,
 *   typeToConfirm?: string, testid?: string }} options `typeToConfirm`: a word the operator must
 *   type first, for what cannot be undone
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, body, confirmLabel, typeToConfirm, testid = 'confirm-dialog' }) {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null
  const confirm = h(
    'button',
    { type: 'submit', value: 'confirm', class: 'danger', 'data-testid': 'confirm-ok' },
    confirmLabel,
  )
  const cancel = h('button', { type: 'button', 'data-testid': 'confirm-cancel' }, 'Cancel')
  /** @type {HTMLInputElement | null} */
  let typed = null
  if (typeToConfirm !== undefined) {
    typed = /** @type {HTMLInputElement} */ (
      h('input', { id: 'confirm-typed', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'confirm-typed' })
    )
    confirm.toggleAttribute('disabled', true)
    const input = typed
    input.addEventListener('input', () => confirm.toggleAttribute('disabled', input.value.trim() !== typeToConfirm))
  }
  const titleId = `dialog-title-${Date.now()}`
  const dialog = /** @type {HTMLDialogElement} */ (
    h(
      'dialog',
      { 'aria-labelledby': titleId, 'data-testid': testid, class: 'confirm' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: titleId }, title),
        ...body.map((b) => (typeof b === 'string' ? h('p', {}, b) : b)),
        typed ? h('p', {}, h('label', { for: 'confirm-typed' }, `Type ${typeToConfirm} to confirm`), ' ', typed) : null,
        h('div', { class: 'dialog-actions' }, cancel, confirm),
      ),
    )
  )
  cancel.addEventListener('click', () => dialog.close('cancel'))
  document.body.append(dialog)
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove()
      opener?.focus()
      resolve(dialog.returnValue === 'confirm')
    })
    dialog.showModal()
    const first = typed ?? confirm
    first.focus()
  })
}
