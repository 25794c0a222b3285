import { useEffect, type RefObject } from 'react';

/**
 * Shows `dialog` as a modal while its component is mounted, and gives the focus back to what had it
 * before (the button that opened it) when the component goes. The dialog leaves the document with
 * its component, and a dialog removed that way gives the focus back to nothing: keyboard and
 * screen-reader users would start again from the top of the page.
 */
export function useModal(dialog: RefObject<HTMLDialogElement | null>): void {
  useEffect(() => {
    const element = dialog.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (element && !element.open) element.showModal();
    return () => {
      element?.close();
      if (opener?.isConnected) opener.focus();
    };
  }, [dialog]);
}
