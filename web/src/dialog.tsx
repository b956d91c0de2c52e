// A modal dialog for every form and confirmation: the native <dialog> opened with showModal(),
// so the page behind is inert and the dialog sits in the viewport wherever its trigger was.
// Focus moves in (to [data-autofocus] or the first control), Tab and Shift+Tab wrap inside it,
// Escape closes it, and focus returns to what opened it.
import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode } from 'react';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

const focusablesIn = (root: HTMLElement) => [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.getClientRects().length > 0 || el.matches('input[type=file]'));

export function Dialog({ title, onClose, children, label, danger = false }: { title: ReactNode; onClose: () => void; children: ReactNode; label?: string; danger?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current!;
    const trigger = document.activeElement instanceof HTMLElement && document.activeElement !== document.body ? document.activeElement : null;
    if (!dialog.open) dialog.showModal();
    (dialog.querySelector<HTMLElement>('[data-autofocus]') ?? focusablesIn(dialog)[0] ?? dialog).focus();
    return () => {
      dialog.close();
      // Back to the trigger; when it is gone (its row was just deleted), to the page's heading.
      (trigger?.isConnected ? trigger : document.querySelector<HTMLElement>('main h1'))?.focus();
    };
  }, []);
  const trapTab = (event: KeyboardEvent<HTMLDialogElement>) => {
    if (event.key !== 'Tab') return;
    const items = focusablesIn(ref.current!);
    if (items.length === 0) return;
    const [first, last] = [items[0], items[items.length - 1]];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };
  return (
    <dialog
      ref={ref}
      className={danger ? 'dialog danger' : 'dialog'}
      aria-labelledby={label ? undefined : titleId}
      aria-label={label}
      onKeyDown={trapTab}
      onCancel={(event) => {
        // Escape: the owner closes it (unmounting), so React's state and the dialog agree.
        event.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

/** A confirmation's two buttons; Cancel takes the focus, so Enter never confirms by accident. */
export function ConfirmButtons({ label, danger, onConfirm, onCancel }: { label: string; danger?: boolean; onConfirm: () => void; onCancel: () => void }) {
  return (
    <div className="buttons">
      <button type="button" className={danger ? 'danger' : undefined} onClick={onConfirm}>
        {label}
      </button>
      <button type="button" className="secondary" data-autofocus onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}
