/* The member list in the sidebar: a click on a member starts a private message. Built 100
   entries at a time, the next 100 only when the end of the list is scrolled into view (or its
   "more" entry is clicked), so a room of 1,000 costs what is on screen. */

import { t } from "./strings.js";

const BATCH = 100;

export class MemberList {
  /** isOwn(name) marks our own entry (not clickable), isActive(name) the private partner;
      onPick(name) runs on a click. */
  constructor(list, { isOwn, isActive, onPick }) {
    this.list = list;
    this.callbacks = { isOwn, isActive, onPick };
    this.names = [];
    this.shown = 0;
    this.more = document.createElement("li");
    this.more.className = "member-more";
    this.moreButton = document.createElement("button");
    this.moreButton.type = "button";
    this.moreButton.addEventListener("click", () => this.showMore());
    this.more.append(this.moreButton);
    this.watcher = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.showMore();
    }, { rootMargin: "200px" });
  }

  /** Show these names (already held to the guest's limits); nothing is rebuilt if they are
      the ones shown (hosts repeat the list on every join and leave). */
  show(names) {
    const same = names.length === this.names.length && names.every((name, i) => name === this.names[i]);
    if (same && this.shown) {
      this.refresh();
      return;
    }
    this.names = names;
    this.shown = 0;
    this.list.replaceChildren();
    this.showMore();
  }

  /** Own and active marks again (our name or the private partner changed). */
  refresh() {
    for (const button of this.list.querySelectorAll("button.member")) this.mark(button);
  }

  showMore() {
    const next = this.names.slice(this.shown, this.shown + BATCH);
    if (!next.length) return;
    this.shown += next.length;
    this.more.remove();
    this.list.append(...next.map((name) => this.entry(name)));
    const left = this.names.length - this.shown;
    if (left > 0) {
      this.moreButton.textContent = t("moreMembers", { count: left });
      this.list.append(this.more);
      this.watcher.observe(this.more);
    } else {
      this.watcher.unobserve(this.more);
    }
  }

  entry(name) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "member";
    button.dataset.name = name;
    const presence = document.createElement("span");
    presence.className = "presence";
    const label = document.createElement("span");
    label.className = "member-name";
    label.textContent = name;
    button.append(presence, label);
    button.addEventListener("click", () => this.callbacks.onPick(name));
    this.mark(button);
    li.append(button);
    return li;
  }

  mark(button) {
    const name = button.dataset.name;
    const own = this.callbacks.isOwn(name);
    button.classList.toggle("own", own);
    button.disabled = own;
    const you = button.querySelector(".you");
    if (own && !you) {
      const tag = document.createElement("span");
      tag.className = "you";
      tag.textContent = t("you");
      button.append(tag);
    } else if (!own) you?.remove();
    button.classList.toggle("active", this.callbacks.isActive(name));
  }
}
