const STORAGE_KEY = 'txc.apiKey';

/** The API key of this browser tab: kept in sessionStorage, so it ends with the tab. */
export const apiKeyStorage = {
  read: (): string | null => sessionStorage.getItem(STORAGE_KEY),
  write: (key: string): void => sessionStorage.setItem(STORAGE_KEY, key),
  forget: (): void => sessionStorage.removeItem(STORAGE_KEY),
};
